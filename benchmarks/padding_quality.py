"""Quality half of the padding decision (docs/padding.md): held-out losses of meta networks trained with each padding.

    python benchmarks/padding_quality.py --eval $MOBILESTYLE_SHARED/data/eval --vgg-weights W \
        zero=runs/pad_zero reflect=runs/pad_reflect prepad=runs/pad_prepad

Prints a markdown table: mean content / style / total loss over (style, content) pairs at --size, and the border
shift (mean |outer 8 px ring - the ring inside it|) that exposes frame artifacts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from mobilestyle.images import center_crop_square, image_to_tensor, load_image, resize_short_side
from mobilestyle.losses import LossWeights, PerceptualLoss
from mobilestyle.model_files import load_model
from mobilestyle.style_encoder import StyleEncoder
from mobilestyle.vgg import VGGEncoder


def border_shift(images: torch.Tensor, ring: int = 8) -> float:
    outer = torch.cat(
        [
            images[..., :ring, :].flatten(),
            images[..., -ring:, :].flatten(),
            images[..., :, :ring].flatten(),
            images[..., :, -ring:].flatten(),
        ]
    ).mean()
    inner = torch.cat(
        [
            images[..., ring : 2 * ring, ring:-ring].flatten(),
            images[..., -2 * ring : -ring, ring:-ring].flatten(),
            images[..., ring:-ring, ring : 2 * ring].flatten(),
            images[..., ring:-ring, -2 * ring : -ring].flatten(),
        ]
    ).mean()
    return abs(float(outer - inner))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="NAME=RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--eval", type=Path, required=True, help="folder with content/ and style/")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    parser.add_argument("--styles", type=int, default=8)
    parser.add_argument("--contents", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    styles = sorted((args.eval / "style").glob("*.jpg"))[: args.styles]
    contents = sorted((args.eval / "content").glob("bsds_*.jpg"))[: args.contents]
    vgg = VGGEncoder.from_weights(args.vgg_weights)
    encoder = StyleEncoder(vgg)
    weights = LossWeights()
    loss = PerceptualLoss(vgg, weights)
    batch = torch.cat([image_to_tensor(center_crop_square(resize_short_side(load_image(c), args.size), args.size)) for c in contents])
    results: dict[str, dict[str, float]] = {}
    for spec in args.runs:
        name, _, location = spec.partition("=")
        path = Path(location)
        loaded = load_model(path / "checkpoint.safetensors" if path.is_dir() else path, expect="MetaNetwork")
        sums = {"content_loss": 0.0, "style_loss": 0.0, "total_loss": 0.0, "border_shift": 0.0}
        for style_path in styles:
            style = load_image(style_path)
            net = loaded.model.emit(encoder.statistics(style, 256)).eval()
            with torch.no_grad():
                output = net(batch)
                parts = loss(output, batch, loss.style_of(image_to_tensor(resize_short_side(style, 256))))
            for key in ("content_loss", "style_loss", "total_loss"):
                sums[key] += float(parts[key]) / len(styles)
            sums["border_shift"] += border_shift(output) / len(styles)
        results[name] = sums
    print("| padding | content | style | total | border shift |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['content_loss'] / 1e6:.3f} M | {r['style_loss'] / 1e6:.2f} M | {r['total_loss'] / 1e6:.2f} M "
            f"| {r['border_shift']:.1f} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
