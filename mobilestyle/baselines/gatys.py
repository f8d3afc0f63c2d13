"""Gatys et al.: optimise the pixels of one image against the same VGG and PerceptualLoss the nets train with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch

from mobilestyle.errors import MobilestyleError
from mobilestyle.losses import PerceptualLoss

Init = Literal["content", "noise"]
Optimizer = Literal["adam", "lbfgs"]
DEFAULT_LR = {"adam": 16.0, "lbfgs": 1.0}  # best of 4, 8, 16, 32 at 200 steps (docs/evaluation.md)


@dataclass
class GatysResult:
    image: torch.Tensor  # 1x3xHxW, 0..255, after the last step
    snapshots: dict[int, torch.Tensor]  # step -> image at that step (for the steps asked for)
    history: list[dict[str, float]] = field(default_factory=list)  # weighted loss parts per step (before it)


def initial_image(content: torch.Tensor, init: Init, seed: int = 0) -> torch.Tensor:
    if init == "content":  # contiguous: L-BFGS flattens gradients with view(); image_to_tensor gives a permuted view
        return content.detach().clone(memory_format=torch.contiguous_format)
    if init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (torch.rand(content.shape, generator=generator) * 255.0).to(content.device)
    raise MobilestyleError(f"unknown --init {init!r}: use content or noise")


def optimize_image(
    loss: PerceptualLoss,
    content: torch.Tensor,
    style_target: dict[str, tuple[torch.Tensor, ...]],
    steps: int,
    *,
    lr: float | None = None,
    init: Init = "content",
    optimizer: Optimizer = "adam",
    snapshot_steps: Iterable[int] = (),
    seed: int = 0,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> GatysResult:
    """Run ``steps`` optimizer steps on the pixels (kept in 0..255); record the loss before each step."""
    if steps < 1:
        raise MobilestyleError("--steps must be at least 1")
    if optimizer not in DEFAULT_LR:
        raise MobilestyleError(f"unknown optimizer {optimizer!r}: use adam or lbfgs")
    with torch.no_grad():
        content_features = loss.features(content)
    pixels = initial_image(content, init, seed).requires_grad_(True)
    step_size = DEFAULT_LR[optimizer] if lr is None else lr
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([pixels], lr=step_size)
    else:
        opt = torch.optim.LBFGS([pixels], lr=step_size, max_iter=1, history_size=50)
    wanted = set(snapshot_steps)
    result = GatysResult(image=pixels.detach(), snapshots={})
    last: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        parts = loss(pixels, content, style_target, content_features=content_features)
        parts["total_loss"].backward()
        last.update({k: v.detach() for k, v in parts.items()})
        return parts["total_loss"]

    for step in range(1, steps + 1):
        opt.step(closure)  # type: ignore[arg-type]  # torch's stub wants a float; LBFGS takes the loss tensor
        with torch.no_grad():
            pixels.clamp_(0.0, 255.0)
        values = {k: float(v) for k, v in last.items()}
        result.history.append(values)
        if on_step is not None:
            on_step(step, values)
        if step in wanted:
            result.snapshots[step] = pixels.detach().clone()
    result.image = pixels.detach().clone()
    return result
