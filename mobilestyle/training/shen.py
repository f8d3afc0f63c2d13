"""Shen et al., Algorithm 1: train the meta network; the style image changes every K iterations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mobilestyle.losses import style_targets
from mobilestyle.meta import MetaNetwork
from mobilestyle.training.loop import TrainContext, optimizer_step
from mobilestyle.transformer import NetConfig
from mobilestyle.vgg import style_statistics


class ShenMethod:
    name = "shen"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        self.config = NetConfig.from_dict(ctx.options.arch) if ctx.options.arch else NetConfig()
        self.model = MetaNetwork(self.config).to(ctx.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=ctx.options.lr)
        self.parameters = list(self.model.parameters())
        self.style_image: torch.Tensor | None = None
        self.style_path = ""

    def _new_style(self) -> None:
        if self.style_path:  # resumed between two style changes: keep the style the interrupted run had
            image = self.ctx.styles.load(Path(self.style_path))
        else:
            path, image = self.ctx.styles.sample()
            self.style_path = str(path)
        self.style_image = self.ctx.to_device(image)
        with torch.no_grad(), self.ctx.autocast():
            features = self.ctx.vgg(self.style_image)
        self.stats = style_statistics(features)
        self.target = style_targets(features, self.ctx.loss.weights.style_layers, self.ctx.loss.weights.style_kind)

    def train_step(self, step: int, content: torch.Tensor) -> dict[str, torch.Tensor]:
        if step % self.ctx.options.style_every == 0:
            self.style_path = ""
        if self.style_image is None or not self.style_path:
            self._new_style()
        self.model.train()
        with self.ctx.autocast():
            params = self.model.params(self.stats)
            output = self.model.stylize(content, params)
            parts = self.ctx.loss(output, content, self.target)
        return optimizer_step(self.optimizer, self.parameters, parts, self.ctx.world)

    @torch.no_grad()
    def samples(self, contents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.style_image is None:
            self._new_style()
        assert self.style_image is not None  # _new_style sets it
        net = self.model.emit(self.stats).to(self.ctx.device)
        return self.style_image, net(contents)

    def extra_state(self) -> dict[str, Any]:
        return {"style_path": str(self.style_path)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.style_path = str(state.get("style_path", ""))
        self.style_image = None

    def checkpoint_meta(self) -> dict[str, Any]:
        return {"net": self.config.to_dict(), "model_class": "MetaNetwork"}
