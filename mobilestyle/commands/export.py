"""`mobilestyle export`: style image(s) -> verified ONNX / TFLite / CoreML model files."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from mobilestyle.atomic import check_output_dir, removing_new_dirs, sha256_file
from mobilestyle.commands.options import checkpoint_option, json_flag, vgg_weights_option
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMAT_NAMES, FORMATS, ArtifactRecord, check_request, export
from mobilestyle.export.model_format import MAX_SIDE, MIN_SIDE, PRECISIONS
from mobilestyle.images import load_image
from mobilestyle.style_encoder import StyleNets

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
@click.argument("style_images", nargs=-1, required=True, type=click.Path(path_type=Path))
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
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Output folder.")
@click.option("--name", default=None, help="Model file name (default: the style image's stem; one style only).")
@click.option("--fresh", is_flag=True, help="Convert from scratch instead of patching the cached converted graph.")
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
    as_json: bool,
) -> None:
    chosen = parse_formats(formats)
    size_list = list(sizes) or [256]
    if name and len(style_images) > 1:
        raise MobilestyleError("--name works with one style image; several styles are named after their files")
    names = [name or path.stem for path in style_images]
    if len(set(names)) != len(names):
        raise MobilestyleError("two style images have the same file name; export them separately with --name")
    for style_name in names:
        check_request(chosen, size_list, precision, style_name)
    pictures = [load_image(path) for path in style_images]  # every bad input fails before any work
    check_output_dir(out_dir)  # created only when the first file is written; removed again if the export fails
    records = []
    with removing_new_dirs(out_dir):
        style_nets = StyleNets.load(checkpoint, vgg_weights)
        jobs = list(zip(style_images, pictures, names))
        for path, picture, style_name in tqdm(jobs, desc="export", unit="style", disable=as_json or len(jobs) < 2):
            net = style_nets.net(picture)
            records += export(
                net,
                formats=chosen,
                sizes=size_list,
                precision=precision,
                out_dir=out_dir,
                name=style_name,
                style_sha256=sha256_file(path),
                extra_metadata=style_nets.provenance(),
                fresh=fresh,
            )
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
    else:
        click.echo(artifact_table(records))
        if not all(FORMATS[f].runs_here for f in chosen):
            click.echo("note: CoreML packages are checked by their spec here; CoreML predictions need macOS.")
