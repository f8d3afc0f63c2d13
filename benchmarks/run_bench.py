"""Full bench run, committed under benchmarks/results/: JSON + markdown + latency PNG, with machine, versions and date.

    python benchmarks/run_bench.py [--vgg-weights PATH] [--peers DIR] [--checkpoint FILE --style IMAGE]
                                   [--sizes 256,384,512] [--threads 1,2] [--repeats 30] [--extra-runtimes torch-compile]

Writes benchmarks/results/bench-<UTC date>/ (bench.json, bench.md, latency.png) and refreshes
benchmarks/results/latest/. Peers default to $MOBILESTYLE_PEERS, else $MOBILESTYLE_SHARED/peers/magenta; VGG weights
to $MOBILESTYLE_VGG16, else $MOBILESTYLE_SHARED/weights/vgg16_caffe_features.pth. Run it on an idle
machine when you can: every figure is a median of interleaved runs, but load still inflates absolute times.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
from pathlib import Path

from mobilestyle.bench.harness import DEFAULT_RUNTIMES, BenchOptions, run_bench
from mobilestyle.bench.report import table, write_report

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def _shared(*parts: str) -> Path | None:
    """A file or folder of the project's shared data ($MOBILESTYLE_SHARED), if that is set and it exists."""
    root = os.environ.get("MOBILESTYLE_SHARED")
    path = Path(root).joinpath(*parts) if root else None
    return path if path is not None and path.exists() else None


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,384,512")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--vgg-weights", type=Path, default=os.environ.get("MOBILESTYLE_VGG16"))
    parser.add_argument("--peers", type=Path, default=os.environ.get("MOBILESTYLE_PEERS") or _shared("peers", "magenta"))
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--style", type=Path, default=None)
    parser.add_argument("--extra-runtimes", default="", help="e.g. torch-compile")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()
    if args.vgg_weights is None:
        args.vgg_weights = _shared("weights", "vgg16_caffe_features.pth")
    options = BenchOptions(
        sizes=_ints(args.sizes),
        threads=_ints(args.threads),
        repeats=args.repeats,
        vgg_weights=args.vgg_weights,
        peers=args.peers,
        checkpoint=args.checkpoint,
        style=args.style,
        runtimes=list(DEFAULT_RUNTIMES) + [r for r in args.extra_runtimes.split(",") if r],
        baselines=not args.no_baselines,
    )
    result = run_bench(options, log=print)
    print(table(result))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%MZ")
    target = RESULTS / f"bench-{stamp}"
    for path in write_report(result, target):
        print(f"wrote {path}")
    latest = RESULTS / "latest"
    shutil.rmtree(latest, ignore_errors=True)
    shutil.copytree(target, latest)
    print(f"copied to {latest}")


if __name__ == "__main__":
    main()
