"""`mobilestyle adapt STYLE_IMAGE`: fine-tune the MetaStyle initialization to one style, then export and verify it.

Adam (lr 1e-3, batch 4) on the MetaStyle loss for --steps steps over the --content photos, then the adapted
net goes through the same exporters and parity checks as `mobilestyle export`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mobilestyle.adaptation import AdaptSettings, adapt_net, load_initialization
from mobilestyle.atomic import check_output_dir, removing_new_dirs, sha256_file
from mobilestyle.commands.export import artifact_table, parse_formats
from mobilestyle.commands.options import folder_or_shared, json_flag, vgg_weights_option
from mobilestyle.data import list_images, readable_images
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMATS, check_request, export
from mobilestyle.export.model_format import MAX_SIDE, MIN_SIDE, PRECISIONS
from mobilestyle.images import load_image
from mobilestyle.model_files import LoadedModel, save_model
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder


@click.command(help=__doc__)
@click.argument("style_image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--content",
    "content_dir",
    envvar="MOBILESTYLE_CONTENT",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of content photos to adapt on (searched recursively). Default: $MOBILESTYLE_CONTENT, else "
    "$MOBILESTYLE_SHARED/data/train/content.",
)
@click.option("--steps", type=click.IntRange(0), default=100, show_default=True, help="Adam steps (the paper: 100-200).")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option(
    "--image-size",
    type=click.IntRange(16, 1024),
    default=256,
    show_default=True,
    help="Side of the content crops (multiple of 4, 16..1024).",
)
@click.option(
    "--style-size", type=click.IntRange(16, 1024), default=None, help="Short side of the style image (16..1024; default: --image-size)."
)
@click.option("--only-in", is_flag=True, help="Adapt only the instance norms' scale and shift (every conv weight stays).")
@click.option(
    "--init",
    "init",
    default=None,
    metavar="PATH|random",
    help="Initialization: a checkpoint from `train --method metastyle`, or 'random' (Johnson from scratch). "
    "Default: mobilestyle/models/metastyle<ARCH>.safetensors.",
)
@click.option(
    "--arch",
    type=click.Choice(["8", "16", "32"]),
    default=None,
    help="Base width: picks the default initialization and the random net; must match --init PATH.  [default: 32]",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="tflite|onnx|coreml|all",
    help="Formats to write (repeat or comma-separate). Default: all.",
)
@click.option(
    "--size",
    "sizes",
    multiple=True,
    type=int,
    help=f"Square input side(s) of the exported model (multiple of 4, {MIN_SIDE}..{MAX_SIDE}). Default: 256.",
)
@click.option(
    "--precision", type=click.Choice(PRECISIONS), default="fp16", show_default=True, help="Weight precision, as in `mobilestyle export`."
)
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Output folder."
)
@click.option("--name", default=None, help="Model file name without suffix (default: the style image's name).")
@click.option("--save-checkpoint", is_flag=True, help="Also write the adapted net as OUT_DIR/NAME.safetensors (for stylize / evaluate).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@vgg_weights_option
@json_flag
def command(
    style_image: Path,
    content_dir: Path,
    steps: int,
    lr: float,
    batch_size: int,
    image_size: int,
    style_size: int | None,
    only_in: bool,
    init: str | None,
    arch: str | None,
    formats: tuple[str, ...],
    sizes: tuple[int, ...],
    precision: str,
    out_dir: Path,
    name: str | None,
    save_checkpoint: bool,
    seed: int,
    no_progress: bool,
    vgg_weights: Path | None,
    as_json: bool,
) -> None:
    """Adapt, export, verify; prints one line per file (or JSON)."""
    if image_size % 4:
        raise click.BadParameter("must be a multiple of 4", param_hint="--image-size")
    name = name or style_image.stem
    chosen, size_list = parse_formats(formats), list(sizes) or [256]
    check_request(chosen, size_list, precision, name)  # fail before adapting, not after
    style = load_image(style_image)
    check_output_dir(out_dir)  # before the adaptation, not after
    content_dir = folder_or_shared(content_dir, "--content", "data", "train", "content")
    content_files, _ = readable_images(list_images(content_dir))
    if not content_files:
        raise MobilestyleError(f"no readable photos in {content_dir}")
    net, init_label = load_initialization(init, int(arch) if arch else None, seed)
    vgg = VGGEncoder.from_weights(vgg_weights)
    settings = AdaptSettings(
        steps=steps, lr=lr, batch_size=batch_size, image_size=image_size, style_size=style_size, only_norm=only_in, seed=seed
    )
    result = adapt_net(net, style, content_files, vgg, settings, progress=not no_progress and not as_json)
    style_sha = sha256_file(style_image)
    # file metadata names the initialization, without the local folders it came from
    adaptation = {"method": "metastyle", "init": Path(init_label).name, "adapt_steps": steps, "only_in": only_in}
    with removing_new_dirs(out_dir):
        records = export(
            result.net,
            name=name,
            formats=chosen,
            sizes=size_list,
            precision=precision,
            out_dir=out_dir,
            style_sha256=style_sha,
            extra_metadata=adaptation,
        )
        checkpoint = _save_adapted(result.net, out_dir / f"{name}.safetensors", adaptation, style_sha) if save_checkpoint else None
    tail = result.losses[-10:]
    summary = {
        "style": str(style_image),
        "name": name,
        **adaptation,
        "arch": result.net.config.to_dict(),
        "image_size": image_size,
        "batch_size": batch_size,
        "lr": lr,
        "seconds_adapt": round(result.seconds, 3),
        "seconds_per_step": None if result.seconds_per_step is None else round(result.seconds_per_step, 4),
        "loss_first_step": result.losses[0] if result.losses else None,
        "loss_last_10_steps": sum(tail) / len(tail) if tail else None,
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "artifacts": [r.to_dict() for r in records],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    if result.losses:
        click.echo(
            f"adapted to {name} in {steps} steps ({result.seconds:.1f} s, {result.seconds_per_step:.3f} s/step); "
            f"loss {summary['loss_first_step']:.4g} -> {summary['loss_last_10_steps']:.4g} (mean of the last {len(tail)} steps)"
        )
    click.echo(artifact_table(records))
    if not all(FORMATS[f].runs_here for f in chosen):
        click.echo("note: CoreML packages are checked by their spec here; CoreML predictions need macOS.")
    if checkpoint is not None:
        click.echo(f"{checkpoint}  adapted net (PyTorch)")


def _save_adapted(net: TransformNet, target: Path, adaptation: dict, style_sha256: str) -> Path:
    meta = {
        "method": "metastyle",
        "net": net.config.to_dict(),
        "model_class": "TransformNet",
        "adaptation": adaptation,
        "style_sha256": style_sha256,
    }
    return save_model(LoadedModel(net, meta, target), target, fp16=False, note=f"adapted: {json.dumps(adaptation)}")
