"""Click options shared by several subcommands."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

SHARED_ENV = "MOBILESTYLE_SHARED"

vgg_weights_option = click.option(
    "--vgg-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="VGG-16 Caffe weights (.pth). Default: $MOBILESTYLE_VGG16, the user cache, or a download.",
)
checkpoint_option = click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="Trained model (.safetensors or a run folder). Default: the model shipped with the package.",
)
json_flag = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def keep_detail_option(where: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--keep-detail A (mobilestyle/controls/detail.py); ``where`` says where the detail goes (the file or the result)."""
    return click.option(
        "--keep-detail",
        type=click.FloatRange(0.0, 2.0),
        default=0.0,
        show_default=True,
        metavar="A",
        help=f"Keep the photo's fine detail: add A x its luma high-pass (1 px Gaussian) {where}. "
        "0.5 raises SSIM vs the photo by ~0.05 for ~8 % more style loss (docs/controls.md).",
    )


def folder_or_shared(given: Path | None, option: str, *shared_parts: str) -> Path:
    """The folder the user gave, else $MOBILESTYLE_SHARED/<shared_parts> (the project's shared data), else a usage error."""
    if given is not None:
        return given
    shared = os.environ.get(SHARED_ENV)
    if not shared:
        raise click.UsageError(f"{option} is required (or set {SHARED_ENV} to use its {'/'.join(shared_parts)})")
    return Path(shared).joinpath(*shared_parts)
