"""How far each style is from the photos: the mean, over the evaluation photos, of the style loss an unchanged photo
would score against the style (50 x mean/std MSE at relu1_2..relu4_3, `evaluate`'s weighting). Magenta moves a photo
toward a near style (a soft painting) less than toward a far one; docs/training.md §6 (seventh session).

    python scripts/style_distances.py --out DIST.json [--content ../shared/data/eval/content --style ../shared/data/eval/style]
        [--limit-content 10] [--size 256] [--evaluation docs/evaluation_meta8/evaluation.json [--plot PNG]]

With --evaluation, it also prints each style's distance beside Magenta's content loss and our content ratio there,
and --plot draws both methods' content loss against the distance (docs/style_distance.png).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

from mobilestyle.data import list_images
from mobilestyle.evaluation import Scorer
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, resize_short_side
from mobilestyle.losses import style_distance, style_targets
from mobilestyle.vgg import VGGEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--content", type=Path, default=Path("../shared/data/eval/content"))
    parser.add_argument("--style", type=Path, default=Path("../shared/data/eval/style"))
    parser.add_argument("--limit-content", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--evaluation", type=Path, help="an evaluate --json file with 'ours' and 'magenta'")
    parser.add_argument("--plot", type=Path, help="with --evaluation: a PNG of content loss against distance")
    args = parser.parse_args()
    scorer = Scorer(VGGEncoder.from_weights(None))
    layers = scorer.weights.style_layers
    photos = []
    with torch.no_grad():
        for path in list_images(args.content)[: args.limit_content]:
            photo = image_to_tensor(center_crop_square(load_image(path), args.size))
            photos.append(style_targets(scorer.vgg(photo), layers, "meanstd"))
    distances = {}
    for path in list_images(args.style):
        target = scorer.style_targets(image_to_tensor(resize_short_side(load_image(path), args.size)))
        distances[path.name] = statistics.mean(scorer.weights.style * float(style_distance(p, target.meanstd)) for p in photos)
    args.out.write_text(json.dumps(distances, indent=1))
    if args.evaluation:
        per_style = json.loads(args.evaluation.read_text())["per_style"]
        rows = []
        for name, distance in sorted(distances.items(), key=lambda item: item[1]):
            ours, magenta = per_style[name]["ours"], per_style[name]["magenta"]
            rows.append((distance, magenta["content_loss"], ours["content_loss"] / magenta["content_loss"]))
            print(f"{name:40s} distance {distance:.2e}  Magenta content {rows[-1][1]:.2e}  ours / Magenta {rows[-1][2]:.2f}")
        logs = [math.log(r[0]) for r in rows]
        print(f"correlation of log distance with log Magenta content: {statistics.correlation(logs, [math.log(r[1]) for r in rows]):.2f}")
        print(f"correlation of log distance with our content ratio:   {statistics.correlation(logs, [r[2] for r in rows]):.2f}")
        if args.plot:
            plot(rows, args.plot)


def plot(rows: list[tuple[float, float, float]], path: Path) -> None:
    """Content loss of Magenta and ours against each style's distance from the photos (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    distance = [r[0] for r in rows]
    axes.scatter(distance, [r[1] for r in rows], label="Magenta", marker="o")
    axes.scatter(distance, [r[1] * r[2] for r in rows], label="ours (shipped)", marker="^")
    axes.set(xscale="log", yscale="log", xlabel="style's distance from the photos (an unchanged photo's style loss)")
    axes.set_ylabel("content loss (relu3_3 MSE), mean of 10 photos")
    axes.set_title("Near styles: Magenta keeps more of the photo than ours")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
