"""Click options shared by several subcommands."""

from __future__ import annotations

from pathlib import Path

import click

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
