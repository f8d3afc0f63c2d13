"""Johnson et al.: train one transformation net for one style (the per-style baseline of the meta network).

Same TransformNet, same VGG and same losses as Shen's method; only the style is fixed. ``--style`` is one
image file; given a folder, its first image is used (with a warning).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from mobilestyle.atomic import sha256_file
from mobilestyle.losses import style_targets
from mobilestyle.runners import channels_last
from mobilestyle.training.loop import TrainContext, optimizer_step
from mobilestyle.transformer import NetConfig, TransformNet

log = logging.getLogger("mobilestyle.train")


class JohnsonMethod:
    name = "johnson"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        files = ctx.styles.files
        if len(files) > 1:
            log.warning("--method johnson trains one style: using %s, the first of %d images", files[0], len(files))
            del files[1:]
        self.config = NetConfig.from_dict(ctx.options.arch) if ctx.options.arch else NetConfig()
        self.model = TransformNet(self.config).to(ctx.device)
        if ctx.device.type == "cuda":
            self.model = channels_last(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=ctx.options.lr)
        self.parameters = list(self.model.parameters())
        self.style_path, image = ctx.styles.sample()
        self.style_image = ctx.to_device(image)
        self.style_sha256 = sha256_file(self.style_path)
        with torch.no_grad(), ctx.autocast():
            features = ctx.vgg(self.style_image)
        self.target = style_targets(features, ctx.loss.weights.style_layers, ctx.loss.weights.style_kind)

    def train_step(self, step: int, content: torch.Tensor) -> dict[str, torch.Tensor]:
        self.model.train()
        with self.ctx.autocast():
            output = self.model(content)
            parts = self.ctx.loss(output, content, self.target)
        return optimizer_step(self.optimizer, self.parameters, parts, self.ctx.world)

    @torch.no_grad()
    def samples(self, contents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        return self.style_image, self.model(contents)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def checkpoint_meta(self) -> dict[str, Any]:
        return {
            "net": self.config.to_dict(),
            "model_class": "TransformNet",
            "style_name": self.style_path.stem,
            "style_sha256": self.style_sha256,
        }
