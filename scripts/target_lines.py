"""Issue 12's target lines for a model evaluated without Magenta, against Magenta's pair scores in a committed
evaluation (docs/evaluation_meta8/evaluation.json: the shipped model and Magenta int8 on 33 held-out styles x 10
photos), so a candidate costs one `evaluate` of itself (about 10 minutes of one thread instead of 30):

    mobilestyle evaluate --checkpoint MODEL --limit-content 10 --size 256 --gatys-steps none --json RUN.json  # no Magenta
    python scripts/target_lines.py RUN.json [MORE.json ...] [--reference docs/evaluation_meta8/evaluation.json]
        [--distances DIST.json]   # split the styles in a near and a far half (scripts/style_distances.py)
        [--plot PLANE.png]        # every run on the content/style plane, beside the target corner
        [--johnson docs/evaluation_meta8/johnson.json]   # the 3 Johnson nets' pairs (the default)

Each line: the pairwise means of ours / Magenta (content, mean/std style, Gram), the mean SSIM, the style spread
against Magenta's, and the total loss against the reference's own model (the shipped one) on the same pairs. A run
is named by its file, or by its folder when the file is a fork's eval_33x10.json (scripts/cpu_fork_eval.sh). Under
it, the other two totals issue 12 asks about: the pairwise mean of total / the Johnson nets' on their styles' pairs,
and held-out / training styles (the mean totals) when an evaluation of training paintings lies beside the run as
eval_training.json (cpu_fork_eval.sh writes both files).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

Pair = tuple[str, str]


def pairs_of(evaluation: dict, method: str) -> dict[Pair, dict]:
    return {(p["content"], p["style"]): p for p in evaluation["pairs"] if p["method"] == method}


# issue 12's lines on the plane: content <= 1.1x and mean/std style <= 0.5x Magenta's on the same pairs
CONTENT_LINE, STYLE_LINE = 1.1, 0.5


def ratios(ours: dict[Pair, dict], magenta: dict[Pair, dict], shipped: dict[Pair, dict]) -> dict[str, float] | None:
    """Pairwise means over the pairs all three scored: ours / Magenta, SSIM, and total vs the shipped model - 1."""
    keys = sorted(set(ours) & set(magenta) & set(shipped))
    if not keys:
        return None

    def ratio(metric: str) -> float:
        return statistics.mean(ours[k][metric] / magenta[k][metric] for k in keys)

    return {
        "pairs": len(keys),
        "content": ratio("content_loss"),
        "style": ratio("style_meanstd"),
        "gram": ratio("style_gram"),
        "ssim": statistics.mean(ours[k]["ssim"] for k in keys),
        "total": statistics.mean(ours[k]["total_loss"] / shipped[k]["total_loss"] - 1 for k in keys),
    }


def line(label: str, scores: dict[str, float] | None, spread: float | None) -> str:
    if scores is None:
        return f"{label}: no pairs in common with the reference"
    text = (
        f"{label:28s} pairs {scores['pairs']:3.0f}  content {scores['content']:.3f}x  style {scores['style']:.3f}x  "
        f"Gram {scores['gram']:.3f}x  SSIM {scores['ssim']:.3f}  total vs shipped {100 * scores['total']:+.1f} %"
    )
    return text + (f"  spread {spread:.2f}x" if spread is not None else "")


def totals_line(ours: dict[Pair, dict], johnson: dict[Pair, dict], training: dict | None) -> str | None:
    """Total vs the Johnson nets (pairwise mean over their pairs) and the held-out total over the training styles'."""
    parts = []
    keys = sorted(set(ours) & set(johnson))
    if keys:
        versus = statistics.mean(ours[k]["total_loss"] / johnson[k]["total_loss"] for k in keys)
        parts.append(f"vs Johnson {versus:.2f}x ({len(keys)} pairs)")
    if training is not None and ours:
        held_out = statistics.mean(p["total_loss"] for p in ours.values())
        trained = [p["total_loss"] for p in pairs_of(training, "ours").values()]
        if trained:
            parts.append(f"held-out / training {held_out / statistics.mean(trained):.2f}x ({len(trained)} training pairs)")
    return "  " + "  ".join(parts) if parts else None


def run_label(path: Path) -> str:
    return path.parent.name if path.name == "eval_33x10.json" else path.stem


def plot(points: list[tuple[str, dict[str, float]]], path: Path) -> Path:
    """Content ratio against style ratio (both vs Magenta), one labelled dot per run, the target corner shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mobilestyle.atomic import atomic_path

    figure, axis = plt.subplots(figsize=(7, 5), dpi=120)
    styles = [s["style"] for _, s in points] + [STYLE_LINE]
    contents = [s["content"] for _, s in points] + [CONTENT_LINE]
    low_style, low_content = min(styles) - 0.05, min(contents) - 0.05
    axis.fill_between([low_style, STYLE_LINE], low_content, CONTENT_LINE, color="tab:green", alpha=0.15, label="issue 12's lines")
    for label, scores in points:
        axis.scatter(scores["style"], scores["content"], s=18, color="tab:blue")
        axis.annotate(label, (scores["style"], scores["content"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.set_xlim(low_style, max(styles) + 0.05)
    axis.set_ylim(low_content, max(contents) + 0.05)
    axis.set_xlabel("style loss (mean/std) / Magenta's (lower: more of the style)")
    axis.set_ylabel("content loss / Magenta's (lower: more of the photo)")
    axis.set_title("held-out pairs, pairwise means", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper right")
    figure.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="evaluate --json files with an 'ours' method")
    parser.add_argument("--reference", type=Path, default=Path("docs/evaluation_meta8/evaluation.json"))
    parser.add_argument("--distances", type=Path, help="style -> photo-to-style distance (scripts/style_distances.py)")
    parser.add_argument("--plot", type=Path, help="a PNG of every run on the content/style plane")
    parser.add_argument("--johnson", type=Path, default=Path("docs/evaluation_meta8/johnson.json"), help="the Johnson nets' evaluation")
    args = parser.parse_args()
    reference = json.loads(args.reference.read_text())
    magenta, shipped = pairs_of(reference, "magenta"), pairs_of(reference, "ours")
    magenta_spread = reference["style_spread"]["magenta"]
    distances = json.loads(args.distances.read_text()) if args.distances else {}
    johnson = pairs_of(json.loads(args.johnson.read_text()), "johnson") if args.johnson.is_file() else {}
    near = set(sorted(distances, key=distances.get)[: len(distances) // 2])
    points = []
    for path in args.runs:
        evaluation = json.loads(path.read_text())
        ours = pairs_of(evaluation, "ours")
        spread = evaluation.get("style_spread", {}).get("ours")
        name, scores = run_label(path), ratios(ours, magenta, shipped)
        print(line(name, scores, spread / magenta_spread if spread else None))
        training_path = path.with_name("eval_training.json")
        totals = totals_line(ours, johnson, json.loads(training_path.read_text()) if training_path.is_file() else None)
        if totals:
            print(totals)
        if scores is not None:
            points.append((name, scores))
        if near:
            halves = (("  near half", lambda k: k[1] in near), ("  far half", lambda k: k[1] not in near))
            for label, keep in halves:
                print(line(label, ratios({k: v for k, v in ours.items() if keep(k)}, magenta, shipped), None))
    if args.plot and points:
        print(plot(points, args.plot))


if __name__ == "__main__":
    main()
