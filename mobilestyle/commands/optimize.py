"""`mobilestyle optimize`: Gatys-style optimization of one image (the slow, per-image baseline)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import torch
from tqdm import tqdm

from mobilestyle.atomic import check_output_file
from mobilestyle.baselines.gatys import optimize_image
from mobilestyle.commands.options import vgg_weights_option
from mobilestyle.images import image_to_tensor, load_image, prepare_style, resize_short_side, save_image, tensor_to_image
from mobilestyle.losses import LossWeights, PerceptualLoss
from mobilestyle.training.loop import pick_device
from mobilestyle.vgg import VGGEncoder

MAX_SIZE = 2048  # pixels are optimised through VGG-16 with gradients: ~25 GB at 2048 px on the short side


@click.command(help=__doc__)
@click.argument("content", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("style", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--steps", type=click.IntRange(1), default=200, show_default=True, help="Optimizer steps on the pixels.")
@click.option(
    "--size", type=click.IntRange(16, MAX_SIZE), default=256, show_default=True, help=f"Short side of the content image (16..{MAX_SIZE})."
)
@click.option("--style-size", type=click.IntRange(16, MAX_SIZE), default=None, help="Short side of the style image (default: --size).")
@click.option(
    "--init",
    type=click.Choice(["content", "noise"]),
    default="content",
    show_default=True,
    help="Start from the content photo or from noise.",
)
@click.option("--optimizer", type=click.Choice(["adam", "lbfgs"]), default="adam", show_default=True)
@click.option("--lr", type=float, default=None, help="Step size on the 0..255 pixel scale (default: adam 16, lbfgs 1).")
@click.option("--content-weight", type=float, default=1.0, show_default=True)
@click.option("--style-weight", type=float, default=50.0, show_default=True)
@click.option("--tv-weight", type=float, default=1e-6, show_default=True)
@click.option("--style-loss", type=click.Choice(["meanstd", "gram"]), default="meanstd", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise start.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output image (.png/.jpg/.webp). Default: CONTENT_STYLE_gatysN.png in the current folder.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@vgg_weights_option
@click.option("--json", "as_json", is_flag=True, help="Print the result (output path, losses, seconds) as JSON.")
def command(**kw: Any) -> None:
    """Optimise the pixels of CONTENT to match the style of STYLE with the training losses (same VGG)."""
    content_path, style_path = kw["content"], kw["style"]
    output = kw["output"] or Path(f"{content_path.stem}_{style_path.stem}_gatys{kw['steps']}.png")
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise click.BadParameter("use a .png, .jpg or .webp file name", param_hint="-o/--output")
    check_output_file(output)
    content_image, style_image = load_image(content_path), load_image(style_path)
    device = pick_device(kw["device"])
    weights = LossWeights(content=kw["content_weight"], style=kw["style_weight"], tv=kw["tv_weight"], style_kind=kw["style_loss"])
    loss = PerceptualLoss(VGGEncoder.from_weights(kw["vgg_weights"]).to(device), weights)
    content = image_to_tensor(resize_short_side(content_image, kw["size"])).to(device)
    style_target = loss.style_of(image_to_tensor(prepare_style(style_image, kw["style_size"] or kw["size"])).to(device))

    bar = tqdm(total=kw["steps"], unit="step", disable=kw["no_progress"], dynamic_ncols=True)

    def on_step(step: int, parts: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(total=f"{parts['total_loss']:.4g}", style=f"{parts['style_loss']:.3g}", content=f"{parts['content_loss']:.3g}")

    started = time.perf_counter()
    try:
        result = optimize_image(
            loss,
            content,
            style_target,
            kw["steps"],
            lr=kw["lr"],
            init=kw["init"],
            optimizer=kw["optimizer"],
            seed=kw["seed"],
            on_step=on_step,
        )
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    with torch.no_grad():
        final = {k: float(v) for k, v in loss(result.image, content, style_target).items()}
    save_image(tensor_to_image(result.image.cpu()), output)
    summary = {
        "output": str(output),
        "steps": kw["steps"],
        "optimizer": kw["optimizer"],
        "init": kw["init"],
        "size": list(result.image.shape[-2:]),
        "seconds": round(seconds, 2),
        "initial": {k: round(v, 6) for k, v in result.history[0].items()},
        "final": {k: round(v, 6) for k, v in final.items()},
    }
    if kw["as_json"]:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"wrote {output}: total loss {summary['initial']['total_loss']:.4g} -> {final['total_loss']:.4g} "
            f"in {kw['steps']} steps ({seconds:.1f} s)"
        )
