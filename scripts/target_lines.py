"""Issue 12's target lines for a model evaluated without Magenta, against Magenta's pair scores in a committed
evaluation (docs/evaluation_meta8/evaluation.json: the shipped model and Magenta int8 on 33 held-out styles x 10
photos), so a candidate costs one `evaluate` of itself (about 10 minutes of one thread instead of 30):

    mobilestyle evaluate --checkpoint MODEL --limit-content 10 --size 256 --gatys-steps none --json RUN.json  # no Magenta
    python scripts/target_lines.py RUN.json [MORE.json ...] [--reference docs/evaluation_meta8/evaluation.json]
        [--distances DIST.json]   # split the styles in a near and a far half (scripts/style_distances.py)

Each line: the pairwise means of ours / Magenta (content, mean/std style, Gram), the mean SSIM, the style spread
against Magenta's, and the total loss against the reference's own model (the shipped one) on the same pairs.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

Pair = tuple[str, str]


def pairs_of(evaluation: dict, method: str) -> dict[Pair, dict]:
    return {(p["content"], p["style"]): p for p in evaluation["pairs"] if p["method"] == method}


def line(label: str, ours: dict[Pair, dict], magenta: dict[Pair, dict], shipped: dict[Pair, dict], spread: float | None) -> str:
    keys = sorted(set(ours) & set(magenta) & set(shipped))
    if not keys:
        return f"{label}: no pairs in common with the reference"

    def ratio(metric: str) -> float:
        return statistics.mean(ours[k][metric] / magenta[k][metric] for k in keys)

    total = statistics.mean(ours[k]["total_loss"] / shipped[k]["total_loss"] - 1 for k in keys)
    text = (
        f"{label:28s} pairs {len(keys):3d}  content {ratio('content_loss'):.3f}x  style {ratio('style_meanstd'):.3f}x  "
        f"Gram {ratio('style_gram'):.3f}x  SSIM {statistics.mean(ours[k]['ssim'] for k in keys):.3f}  total vs shipped {100 * total:+.1f} %"
    )
    return text + (f"  spread {spread:.2f}x" if spread is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="evaluate --json files with an 'ours' method")
    parser.add_argument("--reference", type=Path, default=Path("docs/evaluation_meta8/evaluation.json"))
    parser.add_argument("--distances", type=Path, help="style -> photo-to-style distance (scripts/style_distances.py)")
    args = parser.parse_args()
    reference = json.loads(args.reference.read_text())
    magenta, shipped = pairs_of(reference, "magenta"), pairs_of(reference, "ours")
    magenta_spread = reference["style_spread"]["magenta"]
    distances = json.loads(args.distances.read_text()) if args.distances else {}
    near = set(sorted(distances, key=distances.get)[: len(distances) // 2])
    for path in args.runs:
        evaluation = json.loads(path.read_text())
        ours = pairs_of(evaluation, "ours")
        spread = evaluation.get("style_spread", {}).get("ours")
        print(line(path.name, ours, magenta, shipped, spread / magenta_spread if spread else None))
        if near:
            halves = (("  near half", lambda k: k[1] in near), ("  far half", lambda k: k[1] not in near))
            for label, keep in halves:
                print(line(label, {k: v for k, v in ours.items() if keep(k)}, magenta, shipped, None))


if __name__ == "__main__":
    main()
