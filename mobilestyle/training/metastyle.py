"""MetaStyle (Zhang et al.): bilevel training of a transformation-net initialization that adapts to any style.

One meta-iteration: for each of ``styles_per_batch`` sampled styles, T plain SGD steps on the content batch
from the loop (the inner problem, differentiated through with ``create_graph`` unless first-order), then the
perceptual loss of the adapted weights on a separately sampled content batch (the outer problem). The outer
losses, averaged over the styles, drive Adam on the initialization. Both learning rates decay as
lr / (1 + 2.5e-5 * iteration). Data, losses, metrics, samples, checkpoints, resume and DDP come from
``training.loop``; ``adaptation.adapt_net`` is what a user runs afterwards on a new style.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from mobilestyle.data import crop_loader
from mobilestyle.errors import MobilestyleError
from mobilestyle.losses import LossWeights, PerceptualLoss, content_layers
from mobilestyle.training.loop import TrainContext, sync_gradients
from mobilestyle.transformer import InstanceNorm, NetConfig, TransformNet

# MetaStyle's loss: content MSE at relu2_2, Gram MSE (Gram / CHW) at relu1_2..relu4_3, no TV. The released code's
# weights (1, 1e5) are for torchvision-normalised VGG input; our Caffe VGG sees 0..255 pixels, where Johnson's own
# weights (1, 5) hold for exactly this loss (docs/metastyle.md has the measurement).
METASTYLE_LOSS = LossWeights(content=1.0, style=5.0, tv=0.0, content_layer="relu2_2", style_kind="gram")
# Johnson's net as MetaStyle trains it; ``base`` and ``padding`` may be overridden (--arch, --padding).
METASTYLE_NET = NetConfig(base=32, padding="reflect", upsample="nearest", affine_norm=True)
LR_DECAY = 2.5e-5
# Defaults `mobilestyle train --method metastyle` uses for options the user leaves out (see commands/train.py).
TRAIN_DEFAULTS: dict[str, Any] = {
    "arch": str(METASTYLE_NET.base),
    "padding": METASTYLE_NET.padding,
    "lr": 1e-5,
    "batch_size": 4,
    "content_weight": METASTYLE_LOSS.content,
    "style_weight": METASTYLE_LOSS.style,
    "tv_weight": METASTYLE_LOSS.tv,
    "content_layer": METASTYLE_LOSS.content_layer,
    "style_loss": METASTYLE_LOSS.style_kind,
}
INNER_PARAMS = ("all", "norm")
log = logging.getLogger("mobilestyle.train")
Params = dict[str, torch.Tensor]
StyleTarget = dict[str, tuple[torch.Tensor, ...]]


@dataclass(frozen=True)
class BilevelSettings:
    inner_steps: int = 1
    inner_lr: float = 1e-8
    first_order: bool = False
    styles_per_batch: int = 4
    inner_params: str = "norm"

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> BilevelSettings:
        known = {k: extra[k] for k in ("inner_steps", "inner_lr", "first_order", "styles_per_batch", "inner_params") if k in extra}
        settings = cls(**known)
        if settings.inner_steps < 1 or settings.styles_per_batch < 1:
            raise MobilestyleError("--inner-steps and --styles-per-batch must be at least 1")
        if settings.inner_params not in INNER_PARAMS:
            raise MobilestyleError(f"--inner-params must be one of {', '.join(INNER_PARAMS)}")
        return settings


def metastyle_config(arch: dict[str, Any] | None) -> NetConfig:
    """MetaStyle's net (nearest upsampling, affine instance norm) with the given base / padding."""
    return NetConfig.from_dict({**METASTYLE_NET.to_dict(), **(arch or {})})


def norm_parameter_names(model: nn.Module) -> list[str]:
    """Names of the instance norms' scale and shift (what the released code adapts in its inner loop)."""
    names = [
        f"{module_name}.{param}"
        for module_name, module in model.named_modules()
        if isinstance(module, InstanceNorm) and module.affine
        for param in ("weight", "bias")
    ]
    if not names:
        raise MobilestyleError("this net has no learnable instance-norm parameters (affine_norm is off)")
    return names


def decayed(lr: float, iteration: int) -> float:
    return lr / (1.0 + LR_DECAY * iteration)


def inner_adapt(
    model: nn.Module,
    params: Params,
    names: list[str],
    content: torch.Tensor,
    content_features: dict[str, torch.Tensor],
    target: StyleTarget,
    loss: PerceptualLoss,
    lr: float,
    steps: int,
    create_graph: bool,
) -> tuple[Params, torch.Tensor]:
    """T SGD steps on ``names`` starting from ``params``; returns the adapted parameters and the loss before them.

    With ``create_graph`` the adapted parameters stay differentiable functions of ``params`` (second order);
    without it the step is a constant shift (first-order MAML).
    """
    fast = dict(params)
    first_loss = torch.zeros(())
    for t in range(steps):
        output = functional_call(model, fast, (content,))
        total = loss(output, content, target, content_features)["total_loss"]
        if t == 0:
            first_loss = total.detach()
        grads = torch.autograd.grad(total, [fast[n] for n in names], create_graph=create_graph)
        fast.update({n: fast[n] - lr * g for n, g in zip(names, grads)})
    return fast, first_loss


class MetaStyleMethod:
    name = "metastyle"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        self.config = metastyle_config(ctx.options.arch)
        self.settings = BilevelSettings.from_extra(ctx.options.extra)
        self.model = TransformNet(self.config).to(ctx.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=ctx.options.lr)
        self.parameters = list(self.model.parameters())
        all_names = [n for n, _ in self.model.named_parameters()]
        self.inner_names = all_names if self.settings.inner_params == "all" else norm_parameter_names(self.model)
        self.query_batches: Iterator[torch.Tensor] | None = None
        self.last_style: torch.Tensor | None = None
        self.last_adapted: Params | None = None
        self.skipped_steps = 0

    def _query_batch(self, step: int) -> torch.Tensor:
        """The outer loss's content batch: a second crop stream, seeded apart from the loop's."""
        if self.query_batches is None:
            options = self.ctx.options
            self.query_batches = crop_loader(
                self.ctx.content_files,
                options.image_size,
                options.batch_size,
                options.seed + 7919,
                options.workers,
                self.ctx.rank,
                start=step,
            )
        return self.ctx.to_device(next(self.query_batches))

    def _style(self) -> tuple[torch.Tensor, StyleTarget]:
        _, image = self.ctx.styles.sample()
        image = self.ctx.to_device(image)
        with self.ctx.autocast():
            return image, self.ctx.loss.style_of(image)

    def train_step(self, step: int, content: torch.Tensor) -> dict[str, torch.Tensor]:
        ctx, settings = self.ctx, self.settings
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = decayed(ctx.options.lr, step)
        inner_lr = decayed(settings.inner_lr, step)
        query = self._query_batch(step)
        params: Params = dict(self.model.named_parameters())
        layers = content_layers(ctx.loss.weights)
        with torch.no_grad(), ctx.autocast():
            content_features = ctx.vgg(content, taps=layers)
            query_features = ctx.vgg(query, taps=layers)
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, torch.Tensor] = {}
        for _ in range(settings.styles_per_batch):
            style_image, target = self._style()
            with ctx.autocast():
                fast, inner_loss = inner_adapt(
                    self.model,
                    params,
                    self.inner_names,
                    content,
                    content_features,
                    target,
                    ctx.loss,
                    inner_lr,
                    settings.inner_steps,
                    not settings.first_order,
                )
                parts = ctx.loss(functional_call(self.model, fast, (query,)), query, target, query_features)
            (parts["total_loss"] / settings.styles_per_batch).backward()
            parts["inner_loss"] = inner_loss
            for key, value in parts.items():
                sums[key] = sums.get(key, torch.zeros((), device=value.device)) + value.detach() / settings.styles_per_batch
            self.last_style, self.last_adapted = style_image, {n: v.detach() for n, v in fast.items()}
        sync_gradients(self.parameters, ctx.world)
        if all(torch.isfinite(p.grad).all() for p in self.parameters if p.grad is not None):
            self.optimizer.step()
        else:  # an inner step diverged: keep the initialization rather than poison it (same on every rank)
            self.skipped_steps += 1
            log.warning("meta-iteration %d: non-finite outer gradient, update skipped (lower --inner-lr?)", step + 1)
        sums["skipped_updates"] = torch.tensor(float(self.skipped_steps))
        return sums

    @torch.no_grad()
    def samples(self, contents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last style of the last meta-batch and the net adapted to it (T inner steps) on ``contents``."""
        if self.last_style is None or self.last_adapted is None:
            self.last_style, _ = self._style()
            self.last_adapted = {n: p.detach() for n, p in self.model.named_parameters()}
        self.model.eval()
        outputs = functional_call(self.model, self.last_adapted, (contents,))
        self.model.train()
        return self.last_style, outputs

    def extra_state(self) -> dict[str, Any]:
        return {"skipped_steps": self.skipped_steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.skipped_steps = int(state.get("skipped_steps", 0))

    def checkpoint_meta(self) -> dict[str, Any]:
        # The checkpoint holds a plain TransformNet: the initialization `mobilestyle adapt` starts from.
        return {"net": self.config.to_dict(), "model_class": "TransformNet", "bilevel": asdict(self.settings)}
