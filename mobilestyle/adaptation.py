"""Few-step adaptation of a MetaStyle initialization to one style (Adam 1e-3, batch 4, 100-200 steps).

``adapt_net`` is what `mobilestyle adapt` runs and what docs/metastyle.md measures: it fine-tunes a
TransformNet on the MetaStyle perceptual loss for a single style image and can record the loss on a fixed
evaluation batch at chosen steps (step 0 = the initialization itself).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from mobilestyle.data import crop_loader
from mobilestyle.errors import MobilestyleError
from mobilestyle.images import image_to_tensor, prepare_style
from mobilestyle.losses import LossWeights, PerceptualLoss
from mobilestyle.model_files import MODELS_DIR, load_model
from mobilestyle.training.metastyle import METASTYLE_LOSS, METASTYLE_NET, metastyle_config, norm_parameter_names
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder

RANDOM_INIT = "random"


@dataclass(frozen=True)
class AdaptSettings:
    steps: int = 100
    lr: float = 1e-3
    batch_size: int = 4
    image_size: int = 256
    style_size: int | None = None
    only_norm: bool = False
    seed: int = 0
    loss: LossWeights = field(default=METASTYLE_LOSS)


@dataclass
class AdaptResult:
    net: TransformNet
    losses: list[float]  # training loss of each step (its own random content batch)
    eval_losses: dict[int, float]  # step -> total loss on the fixed evaluation batch
    seconds: float  # adaptation alone, without the evaluations

    @property
    def seconds_per_step(self) -> float | None:
        return self.seconds / len(self.losses) if self.losses else None


def default_init_path(base: int) -> Path:
    return MODELS_DIR / f"metastyle{base}.safetensors"


def load_initialization(init: str | Path | None, base: int | None = None, seed: int = 0) -> tuple[TransformNet, str]:
    """The net to adapt and a label for it: a checkpoint, 'random' (= Johnson from scratch) or the shipped default."""
    if init == RANDOM_INIT:
        torch.manual_seed(seed)
        return TransformNet(metastyle_config({"base": base or METASTYLE_NET.base})), RANDOM_INIT
    if init is None:
        # --arch given: that width's initialization; else the best that ships (32-base, then the mobile 8-base)
        candidates = [default_init_path(b) for b in ([base] if base else [METASTYLE_NET.base, 8])]
        path = next((c for c in candidates if c.is_file()), candidates[0])
        if not path.is_file():
            raise MobilestyleError(
                f"no trained MetaStyle initialization ships with this install ({path.name}); pass --init PATH "
                "(a run folder or checkpoint from `mobilestyle train --method metastyle`) or --init random"
            )
    else:
        path = Path(init)
    loaded = load_model(path, expect="TransformNet")
    if base is not None and loaded.config.base != base:
        raise MobilestyleError(f"{path} holds a {loaded.config.base}-base net, not --arch {base}")
    assert isinstance(loaded.model, TransformNet)
    return loaded.model, str(path)


def style_tensor(style: Image.Image, size: int) -> torch.Tensor:
    return image_to_tensor(prepare_style(style, size))


@torch.no_grad()
def evaluation_loss(net: TransformNet, loss: PerceptualLoss, batch: torch.Tensor, target: dict[str, tuple[torch.Tensor, ...]]) -> float:
    """Total loss of the net as exported (eval mode: clamped output) on a fixed batch."""
    was_training = net.training
    net.eval()
    value = float(loss(net(batch), batch, target)["total_loss"])
    net.train(was_training)
    return value


def adapt_net(
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
    """Fine-tune ``net`` in place on ``style`` for ``settings.steps`` Adam steps; the net stays in eval mode after."""
    if not content_files:
        raise MobilestyleError("no content photos to adapt on")
    torch.manual_seed(settings.seed)
    device = next(vgg.parameters()).device
    net.to(device).train()
    loss = PerceptualLoss(vgg, settings.loss)
    target = loss.style_of(style_tensor(style, settings.style_size or settings.image_size).to(device))
    names = norm_parameter_names(net) if settings.only_norm else [n for n, _ in net.named_parameters()]
    trained = [net.get_parameter(n) for n in names]
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    for parameter in trained:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(trained, lr=settings.lr)
    batches = crop_loader(list(content_files), settings.image_size, settings.batch_size, settings.seed, workers=0)
    eval_steps = set(eval_at)
    eval_losses: dict[int, float] = {}
    if eval_batch is not None and 0 in eval_steps:
        eval_losses[0] = evaluation_loss(net, loss, eval_batch.to(device), target)
    losses: list[float] = []
    seconds = 0.0
    bar = tqdm(total=settings.steps, disable=not progress, unit="step", dynamic_ncols=True, desc="adapting")
    try:
        for step in range(1, settings.steps + 1):
            started = time.perf_counter()
            content = next(batches).to(device)
            total = loss(net(content), content, target)["total_loss"]
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            losses.append(float(total.detach()))
            seconds += time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4g}")
            if eval_batch is not None and step in eval_steps:
                eval_losses[step] = evaluation_loss(net, loss, eval_batch.to(device), target)
    finally:
        bar.close()
        net.requires_grad_(True)
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        raise MobilestyleError("adaptation diverged (non-finite weights); try a lower --lr")
    return AdaptResult(net.eval(), losses, eval_losses, seconds)
