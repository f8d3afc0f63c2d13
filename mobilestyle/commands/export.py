"""`mobilestyle export`: style image(s) -> verified ONNX / TFLite / CoreML model files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from mobilestyle.atomic import check_output_dir, removing_new_dirs
from mobilestyle.commands.options import checkpoint_option, folder_or_shared, json_flag, keep_detail_option, vgg_weights_option
from mobilestyle.controls.build import ExportControls, control_nets, default_name
from mobilestyle.controls.mixing import DEFAULT_SPACE, MIX_SPACES
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMAT_NAMES, FORMATS, ArtifactRecord, check_request, export
from mobilestyle.export.model_format import MAX_SIDE, MIN_SIDE, PRECISIONS
from mobilestyle.export.norm_stats import TILES_FORMATS, export_tiles
from mobilestyle.export.registry import format_of
from mobilestyle.images import load_image
from mobilestyle.style_encoder import StyleNets
from mobilestyle.transformer import TransformNet

FORMAT_CHOICES = (*FORMAT_NAMES, "all")


def parse_formats(values: tuple[str, ...]) -> list[str]:
    chosen: list[str] = []
    for value in values or ("all",):
        for item in value.split(","):
            item = item.strip().lower()
            if item == "all":
                chosen += FORMAT_NAMES
            elif item in FORMAT_NAMES:
                chosen.append(item)
            else:
                raise MobilestyleError(f"unknown format {item!r}; choose from {', '.join(FORMAT_CHOICES)}")
    return list(dict.fromkeys(chosen))


def output_target(out: Path, chosen: list[str], format_given: bool, name: str | None, count: int) -> tuple[Path, list[str], str | None]:
    """Where ``-o`` puts the files: (folder, formats, name).

    ``-o FOLDER`` is taken as it is. ``-o NAME.onnx`` / ``.tflite`` / ``.mlpackage`` (not an existing folder) asks for that
    one file: its folder, its format (a --format given must be that one) and its name.
    """
    fmt = format_of(out)
    if fmt is None or out.is_dir():
        return out, chosen, name
    if out.suffix.lower() != fmt.suffix:
        raise MobilestyleError(f"-o {out}: {fmt.name} models are written as {fmt.suffix}")
    if count != 1:
        raise MobilestyleError(f"-o {out} names one model file; give a folder for several styles")
    if name:
        raise MobilestyleError(f"-o {out} already names the model; drop --name or give a folder")
    if format_given and chosen != [fmt.name]:
        raise MobilestyleError(f"-o {out} names a {fmt.suffix} file but --format asks for {', '.join(chosen)}; give a folder instead")
    return out.parent, [fmt.name], out.name[: -len(fmt.suffix)]


def controls_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Issue 14's options (mobilestyle/controls); their values reach the command as keyword arguments."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--mix",
            default=None,
            metavar="T|W1,W2,...",
            help="One net mixing the styles: with two styles the second's share T (0..1), else one weight per style "
            "(normalised). Mixed in the meta network's hidden space, before its ReLU (docs/controls.md).",
        ),
        click.option(
            "--mix-space",
            type=click.Choice(MIX_SPACES),
            default=DEFAULT_SPACE,
            show_default=True,
            help="Where --mix interpolates (docs/controls.md compares them).",
        ),
        click.option(
            "--random",
            "random_seed",
            type=int,
            default=None,
            metavar="SEED",
            help="No style image: a texture net from a random hidden code (a Gaussian fitted to the training styles).",
        ),
        click.option(
            "--temperature",
            type=float,
            default=1.0,
            show_default=True,
            help="With --random: spread of the sampled style (0 = the mean style).",
        ),
        click.option(
            "--preserve-colors",
            is_flag=True,
            help="Bake 'keep the photo's colours' into the file: the stylized luma with the photo's chroma (YCbCr BT.601).",
        ),
        keep_detail_option("baked into the file"),
        click.option(
            "--refine",
            type=click.IntRange(0),
            default=0,
            metavar="N",
            help="N Adam steps of per-style training from the emitted net (MetaStyle's adaptation) on --content photos.",
        ),
        click.option(
            "--content",
            "content_dir",
            envvar="MOBILESTYLE_CONTENT",
            default=None,
            type=click.Path(file_okay=False, path_type=Path),
            help="With --refine: content photos. Default: $MOBILESTYLE_CONTENT, else $MOBILESTYLE_SHARED/data/train/content.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def artifact_table(records: list[ArtifactRecord]) -> str:
    rows = [("file", "format", "precision", "size", "max abs err", "PSNR dB", "seconds", "verified by")]
    for r in records:
        size = f"{r.bytes / 1024:.0f} KiB"
        err = "-" if r.max_abs_error is None else f"{r.max_abs_error:.2g}"
        db = "-" if r.psnr_db is None else ("inf" if r.psnr_db == float("inf") else f"{r.psnr_db:.1f}")
        rows.append((r.path, r.format, r.precision, size, err, db, f"{r.seconds:.2f}", r.verification))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows)


@click.command(
    help=__doc__
    + """

Each STYLE_IMAGE is encoded by the meta network into a small transformation net, converted, and
verified against PyTorch on a fixed test image before it is reported ok (ONNX in onnxruntime, TFLite
in the LiteRT interpreter with XNNPACK, CoreML by checking the package's spec: CoreML predictions
need macOS). Files: OUTDIR/NAME.onnx (dynamic size), NAME.tflite (one signature per --size),
NAME.mlpackage (flexible size). --precision applies to TFLite (fp16 / int8 via ai-edge-quantizer);
CoreML is fp16 unless fp32 is asked; ONNX is always fp32. fp16 files are made from the net with
the convs that feed instance norms rescaled per channel (same function; keeps x² inside fp16).

Conversions are cached (~/.cache/mobilestyle/graphs or $MOBILESTYLE_CACHE): a further style only
patches its weights into the converted graph, then is verified like a fresh conversion."""
)
@click.argument("style_images", nargs=-1, required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="onnx|tflite|coreml|all",
    help="Formats to write (repeat or comma-separate). Default: all.",
)
@click.option(
    "--size",
    "sizes",
    multiple=True,
    type=int,
    help=f"Square input side(s) for TFLite signatures and CoreML's default (multiple of 4, {MIN_SIDE}..{MAX_SIDE}). Default: 256.",
)
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp16", show_default=True, help="Weight precision (see above).")
@checkpoint_option
@vgg_weights_option
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Output folder, or one model file: -o NAME.tflite (or .onnx, .mlpackage) writes that file in that format.",
)
@click.option("--name", default=None, help="Model file name (default: the style image's stem; one style only).")
@click.option("--fresh", is_flag=True, help="Convert from scratch instead of patching the cached converted graph.")
@click.option(
    "--tiles",
    is_flag=True,
    help="Also write NAME.tiles.onnx / NAME.tiles.tflite (fp32, the first --size): the net with its instance-norm statistics "
    "as an input and an output, for whole photos in tiles with one set of statistics on a phone (export/norm_stats.py).",
)
@controls_options
@json_flag
def command(
    style_images: tuple[Path, ...],
    formats: tuple[str, ...],
    sizes: tuple[int, ...],
    precision: str,
    checkpoint: Path | None,
    vgg_weights: Path | None,
    out_dir: Path,
    name: str | None,
    fresh: bool,
    tiles: bool,
    as_json: bool,
    **control_values: Any,
) -> None:
    controls = ExportControls(**control_values)  # issue 14: --mix, --random, --preserve-colors, --keep-detail, --refine
    controls.check(style_images)
    if controls.refine:
        controls.content_dir = folder_or_shared(controls.content_dir, "--content", "data", "train", "content")
    chosen = parse_formats(formats)
    out_dir, chosen, name = output_target(out_dir, chosen, bool(formats), name, 1 if controls.one_net else len(style_images))
    size_list = list(sizes) or [256]
    if controls.one_net:
        names = [name or default_name(style_images, controls) or ""]
    elif name and len(style_images) > 1:
        raise MobilestyleError("--name works with one style image; several styles are named after their files")
    else:
        names = [name or path.stem for path in style_images]
    if len(set(names)) != len(names):
        raise MobilestyleError("two style images have the same file name; export them separately with --name")
    for style_name in names:
        check_request(chosen, size_list, precision, style_name)
    tiles_formats = [f for f in chosen if f in TILES_FORMATS] if tiles else []
    if tiles and not tiles_formats:
        raise MobilestyleError("--tiles writes ONNX and TFLite files: add --format onnx or tflite")
    if tiles and controls.wraps:
        raise MobilestyleError(
            "--tiles with --preserve-colors or --keep-detail: a norm-statistics file holds the plain style net; apply them in the app"
        )
    pictures = [load_image(path) for path in style_images]  # every bad input fails before any work
    check_output_dir(out_dir)  # created only when the first file is written; removed again if the export fails
    records = []
    with removing_new_dirs(out_dir):
        style_nets = StyleNets.load(checkpoint, vgg_weights)
        # one net at a time: the meta network's net per style image, or what the controls make (mixed, random, refined, colour-keeping)
        jobs = control_nets(style_nets, style_images, pictures, names, controls)
        for job in tqdm(jobs, total=len(names), desc="export", unit="style", disable=as_json or len(names) < 2):
            records += export(
                job.net,
                formats=chosen,
                sizes=size_list,
                precision=precision,
                out_dir=out_dir,
                name=job.name,
                style_sha256=job.style_sha256,
                extra_metadata=job.metadata,
                fresh=fresh,
            )
            if tiles_formats:
                assert isinstance(job.net, TransformNet)  # --preserve-colors / --keep-detail are refused above
                records += export_tiles(
                    job.net,
                    formats=tiles_formats,
                    size=size_list[0],
                    out_dir=out_dir,
                    name=job.name,
                    style_sha256=job.style_sha256,
                    extra_metadata=job.metadata,
                )
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
    else:
        click.echo(artifact_table(records))
        if not all(FORMATS[f].runs_here for f in chosen):
            click.echo("note: CoreML packages are checked by their spec here; CoreML predictions need macOS.")
