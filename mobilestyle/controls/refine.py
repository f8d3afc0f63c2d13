"""``export --refine N``: MetaStyle's few-step adaptation, started from the net the meta network emitted.

The emitted net is already close to the style; N Adam steps of per-style training on content photos (the
adaptation loop of mobilestyle/adaptation.py) trade seconds for quality. The objective is the meta network's own
training loss (content relu3_3 + mean/std style x 50 + TV 1e-6), which is also the total `mobilestyle evaluate`
reports; MetaStyle's initialization is adapted on its Gram loss by `mobilestyle adapt`, but compared here on
this one (docs/controls.md).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from mobilestyle.adaptation import AdaptResult, AdaptSettings, adapt_net
from mobilestyle.losses import LossWeights
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder

REFINE_LOSS = LossWeights()
REFINE_LR = 1e-3


def refine_settings(
    steps: int, *, image_size: int = 256, batch_size: int = 4, lr: float = REFINE_LR, style_size: int | None = None, seed: int = 0
) -> AdaptSettings:
    return AdaptSettings(
        steps=steps, lr=lr, batch_size=batch_size, image_size=image_size, style_size=style_size, seed=seed, loss=REFINE_LOSS
    )


def refine_net(
    net: TransformNet,
    style: Image.Image,
    content_files: Sequence[Path],
    vgg: VGGEncoder,
    settings: AdaptSettings,
    *,
    eval_batch: torch.Tensor | None = None,
    eval_at: Sequence[int] = (),
    progress: bool = False,
) -> AdaptResult:
    """A refined copy of ``net`` (``net`` itself is left as it is); ``settings.steps`` = 0 returns an equal copy."""
    return adapt_net(
        copy.deepcopy(net).float(), style, content_files, vgg, settings, eval_batch=eval_batch, eval_at=eval_at, progress=progress
    )
