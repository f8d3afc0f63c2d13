"""`mobilestyle stylize`: stylize photos with PyTorch (--style) or an exported .onnx / .tflite (--model)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from PIL import Image
from tqdm import tqdm

from mobilestyle.atomic import check_output_dir, check_output_file, removing_new_dirs
from mobilestyle.commands.options import checkpoint_option, keep_detail_option, vgg_weights_option
from mobilestyle.controls.build import ControlledRunner
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import open_model
from mobilestyle.export.model_format import MAX_RUN_SIDE
from mobilestyle.images import center_crop_square, fit_short_side, load_image, make_grid, resize_short_side, save_image
from mobilestyle.runners import Runner, TorchRunner
from mobilestyle.style_encoder import StyleNets

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_SIZE = MAX_RUN_SIDE  # --size ceiling; the working picture is also held under images.MAX_WORK_PIXELS


def _is_other_image_name(out: Path) -> bool:
    """-o x.gif / x.bmp / x.tiff: a picture name we cannot write (not a folder to create)."""
    suffix = out.suffix.lower()
    return bool(suffix) and suffix not in IMAGE_SUFFIXES and suffix in Image.registered_extensions() and not out.is_dir()


def _targets(contents: tuple[Path, ...], out: Path, tag: str, grid: bool) -> list[Path]:
    """One output file per content image: ``out`` itself when it names an image file, else files in folder ``out``."""
    suffix = "_grid.png" if grid else ".png"
    if _is_other_image_name(out):
        raise MobilestyleError(f"-o {out}: cannot write {out.suffix} pictures; use .png, .jpg or .webp (or a folder)")
    if out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        if len(contents) > 1:
            raise MobilestyleError(f"-o {out} names one file but {len(contents)} content images were given; pass a folder")
        return [check_output_file(out)]
    check_output_dir(out)
    return [out / f"{path.stem}_{tag}{suffix}" for path in contents]


@click.command(
    help=__doc__
    + """

With --style the meta network turns the style image into a net and PyTorch runs it; with --model the
exported file runs in onnxruntime or the LiteRT interpreter, so you see what the phone will show
(CoreML .mlpackage files need macOS). Only files made by `mobilestyle export` / `adapt` are run (read
from their metadata); foreign models such as Magenta's are refused. --grid writes content | style | result
side by side. -o takes a .png / .jpg / .webp file (one photo) or a folder; it is checked before any work."""
)
@click.argument("contents", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--style", "style_image", type=click.Path(path_type=Path), default=None, help="Style image (stylize with PyTorch).")
@click.option("--model", "model_file", type=click.Path(path_type=Path), default=None, help="Exported .onnx or .tflite file.")
@checkpoint_option
@vgg_weights_option
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Output image (one content) or folder."
)
@click.option(
    "--size",
    type=click.IntRange(16, MAX_SIZE),
    default=None,
    help=f"Short side to work at (multiple of 4, 16..{MAX_SIZE}; at most 16.8 MP in all). Default: the photo's own, "
    "downscaled to fit 16.8 MP. A .tflite file runs its own square sizes.",
)
@click.option("--grid", is_flag=True, help="Write a content | style | result picture.")
@click.option("--threads", type=click.IntRange(1), default=None, help="Runtime threads.")
@click.option("--preserve-colors", is_flag=True, help="Keep the photo's colours: the stylized luma with the photo's chroma (YCbCr BT.601).")
@keep_detail_option("to the result")
@click.option(
    "--tile",
    type=click.IntRange(256, 4096),
    default=None,
    metavar="SIDE",
    help="High-resolution photos in bounded memory (with --style): SIDE x SIDE tiles (multiple of 4), overlapping, "
    "instance-norm statistics fixed for all tiles (docs/controls.md). The photo is kept at its own size unless --size.",
)
@click.option(
    "--exact-stats",
    is_flag=True,
    help="With --tile: the full-resolution picture's own norm statistics (one tiled pass per norm, ~2x slower) instead of a 1024 px pass.",
)
def command(
    contents: tuple[Path, ...],
    style_image: Path | None,
    model_file: Path | None,
    checkpoint: Path | None,
    vgg_weights: Path | None,
    out: Path,
    size: int | None,
    grid: bool,
    threads: int | None,
    preserve_colors: bool,
    keep_detail: float,
    tile: int | None,
    exact_stats: bool,
) -> None:
    if (style_image is None) == (model_file is None):
        raise MobilestyleError("give exactly one of --style STYLE_IMAGE or --model FILE.onnx|.tflite")
    if size is not None and size % 4:
        raise MobilestyleError(f"--size {size} is not a multiple of 4")
    source = style_image or model_file
    assert source is not None
    targets = _targets(contents, out, source.stem, grid)  # checked before any work
    images = [load_image(path) for path in contents]
    style_picture = load_image(style_image) if style_image else None
    if tile is not None and (tile % 4 or model_file is not None):
        raise MobilestyleError("--tile takes a multiple of 4 and works with --style (the PyTorch net)")
    runner = _runner(style_picture, model_file, checkpoint, vgg_weights, threads)
    if preserve_colors or keep_detail or tile is not None:  # issue 14 (mobilestyle/controls)
        runner = ControlledRunner(runner, preserve_colors, tile, exact_stats, keep_detail)
    with removing_new_dirs(targets[0].parent):
        for image, target in tqdm(list(zip(images, targets)), desc="stylize", unit="image", disable=len(images) < 2):
            prepared = _prepare(image, runner, size)
            result = _run(runner, prepared)
            picture = make_grid([[prepared, style_picture, result] if style_picture else [prepared, result]]) if grid else result
            save_image(picture, target)
            click.echo(str(target))


def _runner(
    style_picture: Image.Image | None, model_file: Path | None, checkpoint: Path | None, vgg_weights: Path | None, threads: int | None
) -> Runner:
    if model_file is not None:
        return open_model(model_file, threads)
    assert style_picture is not None
    return TorchRunner(StyleNets.load(checkpoint, vgg_weights).net(style_picture), threads)


def _prepare(image: Image.Image, runner: Runner, size: int | None) -> Image.Image:
    """Resize for the runner: a .tflite file's square signature, else short side ``size`` with sides multiple of 4.

    Without --size a large photo is downscaled to fit images.MAX_WORK_PIXELS; with it, a result over that is refused.
    """
    sizes = getattr(runner, "sizes", None)
    if sizes:
        squares = [h for h, w in sizes if h == w]
        if size is not None and size not in squares:
            raise MobilestyleError(f"this TFLite model runs {', '.join(f'{h}x{w}' for h, w in sizes)}; --size {size} is not one of them")
        return center_crop_square(image, size or squares[0])
    target = size or fit_short_side(image, multiple=4)
    return resize_short_side(image, target, multiple=4)


def _run(runner: Runner, image: Image.Image) -> Image.Image:
    rgb = np.asarray(image, dtype=np.float32)
    out = runner.run(rgb)
    return Image.fromarray(np.clip(out, 0, 255).round().astype(np.uint8), "RGB")
