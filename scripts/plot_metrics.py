"""Plot a run's metrics.csv (content, style, total loss per step, smoothed) to a PNG: the training curve for docs/.

python scripts/plot_metrics.py RUN/metrics.csv docs/training_curve.png [--smooth 100]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from mobilestyle.atomic import atomic_path


def moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--smooth", type=int, default=100, help="Moving-average window in steps.")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(args.metrics, newline="") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["step"]) for r in rows]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=120)
    for key in ("total_loss", "style_loss", "content_loss"):
        axis.plot(steps, moving_average([float(r[key]) for r in rows], args.smooth), label=key.replace("_", " "))
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel(f"weighted loss (moving average of {args.smooth})")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    with atomic_path(args.output) as tmp, open(tmp, "wb") as handle:
        figure.savefig(handle, format="png")
    print(args.output)


if __name__ == "__main__":
    main()
