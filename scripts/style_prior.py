"""Write mobilestyle/models/style_prior.safetensors: the Gaussian over log1p VGG style statistics that
`mobilestyle export --random SEED` samples (mobilestyle/controls/noise.py).

    python scripts/style_prior.py [--stats ~/.cache/mobilestyle/datasets/styles-*.safetensors | --style-dir DIR] [--rank 32]

The statistics come from the training data cache of `train --method shen-fast` (N x 1920, no VGG pass), or are
computed from a folder of style images with the VGG (slow: ~1 s per image on one CPU thread). The prior does
not depend on the meta network, so a new model does not need a new prior.
"""

from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from mobilestyle.controls.noise import DEFAULT_RANK, PRIOR_PATH, StylePrior
from mobilestyle.data import list_images
from mobilestyle.images import load_image
from mobilestyle.style_encoder import StyleEncoder


def statistics_from_cache(path: Path) -> torch.Tensor:
    return load_file(str(path))["stats"].float()


def statistics_from_images(folder: Path, style_size: int, vgg_weights: str | None) -> torch.Tensor:
    encoder = StyleEncoder.load(vgg_weights)
    return torch.cat([encoder.statistics(load_image(p), style_size) for p in list_images(folder)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stats", type=Path, default=None, help="styles-*.safetensors from the shen-fast data cache")
    parser.add_argument("--style-dir", type=Path, default=None, help="folder of style images (VGG pass per image)")
    parser.add_argument("--style-size", type=int, default=256)
    parser.add_argument("--rank", type=int, default=DEFAULT_RANK)
    parser.add_argument("--out", type=Path, default=PRIOR_PATH)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.style_dir is not None:
        stats = statistics_from_images(args.style_dir, args.style_size, os.environ.get("MOBILESTYLE_VGG16"))
    else:
        path = args.stats or Path(sorted(glob.glob(os.path.expanduser("~/.cache/mobilestyle/datasets/styles-*.safetensors")))[0])
        stats = statistics_from_cache(path)
    prior = StylePrior.fit(stats, args.rank)
    prior.save(args.out)
    print(
        f"{args.out}: {prior.n_styles} styles, rank {prior.components.shape[0]}, {prior.explained():.1%} of the variance "
        f"in the components, "
        f"{args.out.stat().st_size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
