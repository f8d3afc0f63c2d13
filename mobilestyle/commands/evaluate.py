"""`mobilestyle evaluate`: losses and SSIM of ours vs per-style Johnson nets, Gatys and Magenta, with one VGG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mobilestyle.atomic import check_output_dir, check_output_file, removing_new_dirs
from mobilestyle.commands.options import SHARED_ENV, checkpoint_option, folder_or_shared, vgg_weights_option
from mobilestyle.evaluation import EvalOptions, evaluate, format_table, parse_steps

MAX_SIZE = 1024  # Gatys at 1024 px keeps VGG-16 activations and gradients near 10 GB; larger sides are refused


@click.command(help=__doc__)
@click.option(
    "--content",
    "content_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder of content photos (default: ${SHARED_ENV}/data/eval/content).",
)
@click.option(
    "--style",
    "style_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder of style images (default: ${SHARED_ENV}/data/eval/style).",
)
@click.option("--limit-content", type=click.IntRange(1), default=None, help="Use only the first N content images (sorted).")
@click.option("--limit-style", type=click.IntRange(1), default=None, help="Use only the first N style images (sorted).")
@click.option(
    "--size",
    type=click.IntRange(16, MAX_SIZE),
    default=256,
    show_default=True,
    help=f"Side of the centre-square content crops (multiple of 4, 16..{MAX_SIZE}).",
)
@checkpoint_option
@click.option(
    "--johnson",
    "johnson_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of per-style Johnson nets: STYLE_STEM.safetensors or STYLE_STEM/checkpoint.safetensors.",
)
@click.option("--gatys-steps", default="50,200,500", show_default=True, help="Gatys step counts to score (one run per pair); 'none' skips.")
@click.option(
    "--gatys-optimizer", type=click.Choice(["adam", "lbfgs"]), default="adam", show_default=True, help="Optimizer of the Gatys runs."
)
@click.option(
    "--magenta-peers",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with Magenta's TFLite files (or a peers folder holding magenta/). "
    "Default: $MOBILESTYLE_PEERS, else $MOBILESTYLE_SHARED/peers.",
)
@click.option("--magenta-variant", type=click.Choice(["int8", "fp16"]), default="int8", show_default=True, help="Magenta transfer model.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the full results as JSON here."
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for evaluation.md, evaluation.json and grids/STYLE.png.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@vgg_weights_option
def command(**kw: Any) -> None:
    """Score every method on (content, style) pairs; print the summary table."""
    if kw["size"] % 4:
        raise click.BadParameter("must be a multiple of 4", param_hint="--size")
    content_dir = folder_or_shared(kw["content_dir"], "--content", "data", "eval", "content")
    style_dir = folder_or_shared(kw["style_dir"], "--style", "data", "eval", "style")
    if kw["json_path"] is not None:  # output paths are checked before hours of work, not after
        check_output_file(kw["json_path"])
    if kw["report_dir"] is not None:
        check_output_dir(kw["report_dir"])

    options = EvalOptions(
        content_dir=content_dir,
        style_dir=style_dir,
        size=kw["size"],
        limit_content=kw["limit_content"],
        limit_style=kw["limit_style"],
        checkpoint=kw["checkpoint"],
        johnson_dir=kw["johnson_dir"],
        gatys_steps=parse_steps(kw["gatys_steps"]),
        gatys_optimizer=kw["gatys_optimizer"],
        magenta_peers=kw["magenta_peers"],
        magenta_variant=kw["magenta_variant"],
        vgg_weights=kw["vgg_weights"],
        device=kw["device"],
    )
    with removing_new_dirs(kw["report_dir"] or Path.cwd()), removing_new_dirs((kw["json_path"] or Path.cwd() / "x").parent):
        result = evaluate(options, kw["report_dir"], kw["json_path"], progress=not kw["no_progress"])
    click.echo(format_table(result.summary()), nl=False)
    for line in result.targets():
        click.echo(f"target: {line}")
    for note in dict.fromkeys(result.notes):
        click.echo(f"note: {note}")
    if kw["report_dir"]:
        click.echo(f"report: {kw['report_dir'] / 'evaluation.md'}")
