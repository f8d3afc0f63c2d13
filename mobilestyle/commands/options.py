"""Click options shared by several subcommands."""

from __future__ import annotations

import os
from pathlib import Path

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


def folder_or_shared(given: Path | None, option: str, *shared_parts: str) -> Path:
    """The folder the user gave, else $MOBILESTYLE_SHARED/<shared_parts> (the project's shared data), else a usage error."""
    if given is not None:
        return given
    shared = os.environ.get(SHARED_ENV)
    if not shared:
        raise click.UsageError(f"{option} is required (or set {SHARED_ENV} to use its {'/'.join(shared_parts)})")
    return Path(shared).joinpath(*shared_parts)
