"""One picture to compare meta networks by eye: a row per (style, photo), columns photo | style | each model | Magenta.

    python scripts/compare_grid.py --model shipped=mobilestyle/models/meta8.safetensors --model skip=RUN/model_fp16.safetensors \\
        --style ../shared/data/eval/style/the_scream.jpg --style ../shared/data/eval/style/mosaic.jpg \\
        --photo ../shared/data/eval/content/avril.jpg [--magenta-peers ../shared/peers/magenta] [--size 256] [--cell 192] --out GRID.jpg

Each model emits its net for each style (the way `export` does) and stylizes the photo's centre square at --size, as
`mobilestyle evaluate` scores it; Magenta int8 runs on the same square when its models are found (--magenta-peers or
$MOBILESTYLE_PEERS). The VGG-16 weights come from $MOBILESTYLE_VGG16 or the user cache, as for every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image

from mobilestyle.baselines.magenta import MagentaStylizer, optional_magenta
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, make_grid, save_image, tensor_to_image
from mobilestyle.style_encoder import StyleNets


def labelled_model(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"--model wants LABEL=PATH, got {text!r}")
    return label, Path(path)


def grid_rows(
    models: dict[str, StyleNets], styles: list[Path], photos: list[Path], size: int, magenta: MagentaStylizer | None
) -> list[list[Image.Image]]:
    rows = []
    squares = [center_crop_square(load_image(p), size) for p in photos]
    for style_path in styles:
        style = load_image(style_path)
        nets = {label: style_nets.net(style).eval() for label, style_nets in models.items()}
        bottleneck = magenta.style_bottleneck(style) if magenta else None
        for photo in squares:
            row = [photo, center_crop_square(style, size)]
            with torch.no_grad():
                row += [tensor_to_image(net(image_to_tensor(photo))) for net in nets.values()]
            if magenta is not None and bottleneck is not None:
                row.append(magenta.stylize_image(photo, bottleneck))
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=labelled_model, action="append", required=True, help="LABEL=PATH of a meta network")
    parser.add_argument("--style", type=Path, action="append", required=True)
    parser.add_argument("--photo", type=Path, action="append", required=True)
    parser.add_argument("--magenta-peers", type=Path, help="Magenta's TFLite models (default: $MOBILESTYLE_PEERS)")
    parser.add_argument("--size", type=int, default=256, help="the photos' side, as evaluate scores them")
    parser.add_argument("--cell", type=int, default=192, help="each picture's side in the grid")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    models = {label: StyleNets.load(path) for label, path in args.model}
    magenta, skipped = optional_magenta(args.magenta_peers)
    if skipped:
        print(f"magenta: skipped ({skipped})")
    rows = grid_rows(models, args.style, args.photo, args.size, magenta)
    labels = ["photo", "style", *models, *(["magenta int8"] if magenta else [])]
    print(save_image(make_grid(rows, cell=args.cell, labels=labels), args.out))


if __name__ == "__main__":
    main()
