"""Shen et al.'s meta network with a recipe efficient enough for a few CPU-hours (``--method shen-fast``).

What differs from ``--method shen`` (Algorithm 1 as published), each measured in docs/training.md:
- data prepared once (training/datasets.py): photos as uint8 tensors, every style's VGG statistics at the
  model's style size (the meta network's input and the style-loss targets), so a step runs no JPEG decoder
  and no VGG on a style image;
- optional style variants (``--style-variants K``: K hue/saturation/contrast/crop variants of every painting,
  statistics precomputed like the originals) and procedural abstract styles (``--synthetic-styles N``,
  training/synthetic_styles.py) for styles unlike the training paintings;
- every sample in a batch carries its own style (per-sample nets through ``vmap``), not one style per 20 steps;
- the statistics are standardised over the training styles (stored with the model) and the heads start with
  a larger gain, so the emitted nets differ by style from step 0;
- an optional first stage on dense targets (Magenta's outputs for cached (photo, style) pairs: pixel L1 plus a
  relu1_1 feature term) that teaches the net to keep the photo, then the paper's perceptual objective;
- optional per-style strength: ``--affine-norm`` (the meta network also emits each instance norm's scale and
  shift) and ``--input-skip`` (it emits the gains of a skip that adds the photo to the net's output);
- a resolution curriculum (``--image-size`` for most steps, ``--final-size`` for the last ``--final-steps``);
- an optional per-sample style weight (``--style-balance``) from the photo's own distance to its style;
- bf16 autocast for the VGG where the CPU has native bf16 (avx512_bf16 / amx), fp32 elsewhere.

Every batch is a pure function of (seed, step): a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from mobilestyle.baselines.magenta import find_magenta_dir
from mobilestyle.errors import MobilestyleError
from mobilestyle.images import image_to_tensor, load_image, resize_short_side
from mobilestyle.losses import balance_reference, balance_weights, content_distance, content_layers, style_distance_each, total_variation
from mobilestyle.meta import MetaNetwork
from mobilestyle.model_files import load_model
from mobilestyle.runners import channels_last
from mobilestyle.training import datasets
from mobilestyle.training.loop import TrainContext, optimizer_step
from mobilestyle.transformer import NetConfig
from mobilestyle.vgg import split_statistics, style_statistics

log = logging.getLogger("mobilestyle.train")
STYLE_SIZE = 256  # the meta network reads styles at this short side (the model's style_size)
CONTENT_SIDE = 256  # cached photo squares; crops are taken from them


def cpu_has_bf16() -> bool:
    """Native bf16 matrix units (avx512_bf16 or AMX) on this CPU: only then is bf16 autocast faster on CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class ShenFastMethod:
    name = "shen-fast"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        options, extra = ctx.options, ctx.options.extra
        self.config = NetConfig.from_dict(options.arch) if options.arch else NetConfig()
        self.teacher_steps = int(extra.get("teacher_steps") or 0)
        self.final_size = int(extra.get("final_size") or options.image_size)
        self.final_steps = int(extra.get("final_steps") or 0)
        for size in (options.image_size, self.final_size):
            if size > CONTENT_SIDE or size % 4:
                raise MobilestyleError(f"shen-fast trains at sizes up to {CONTENT_SIDE} px, multiples of 4 (got {size})")
        self.max_crop_scale = float(extra.get("max_crop_scale") or 2.0)
        self.style_noise = float(extra.get("style_noise") or 0.0)
        self.style_balance = float(extra.get("style_balance") or 0.0)
        bf16 = extra.get("bf16", "auto")
        self.bf16 = cpu_has_bf16() if bf16 == "auto" and ctx.device.type == "cpu" else bf16 in ("on", "auto")
        cache = Path(extra.get("data_cache") or datasets.default_data_cache())
        progress = options.progress and ctx.rank == 0
        self.style_files = list(ctx.styles.files)
        self.photos = datasets.content_tensors(ctx.content_files, CONTENT_SIDE, cache, progress)
        # One table: the meta network's input and the style-loss targets at every training size. A net trained on
        # 128 px crops against the style's statistics at 256 px draws strokes at the scale the style has at 256 px,
        # the scale `evaluate` and `export` use.
        originals = datasets.style_statistics_table(self.style_files, STYLE_SIZE, ctx.vgg.cpu(), cache, progress)
        # precomputed tables of more paintings (e.g. the data cache's styles-*.safetensors): a machine without the
        # images trains on them too; rows after len(style_files) have no image (samples use style 0)
        tables = [datasets.load_statistics_table(path) for path in extra.get("style_statistics") or ()]
        if tables:
            originals = torch.cat([originals, *tables])
        variants = int(extra.get("style_variants") or 0)
        synthetic = int(extra.get("synthetic_styles") or 0)
        extra_tables, seed = [], options.seed
        if variants:
            extra_tables.append(datasets.augmented_style_statistics(self.style_files, STYLE_SIZE, variants, ctx.vgg, cache, seed, progress))
        if synthetic:
            extra_tables.append(datasets.synthetic_style_statistics(synthetic, STYLE_SIZE, ctx.vgg, cache, seed, progress))
        self.style_stats = torch.cat([originals, *extra_tables])
        # channels-last convolutions on the CPU too (the caches above are computed before, unchanged): on a 2-core
        # AVX2 CPU a step (batch 4, 256 px, fp32) took 12 % less time with them (docs/training.md §2.2)
        channels_last(ctx.vgg.to(ctx.device))
        self.device_stats = self.style_stats.to(ctx.device)
        usable = torch.isfinite(self.style_stats).all(1)
        self.usable_styles = usable.nonzero()[:, 0]
        if len(self.usable_styles) == 0:
            raise MobilestyleError("no readable style images")
        self.teacher: dict[str, torch.Tensor] | None = None
        if self.teacher_steps:
            self.teacher = datasets.teacher_pairs(
                ctx.content_files,
                self.style_files,
                int(extra.get("teacher_pairs") or 4000),
                CONTENT_SIDE,
                find_magenta_dir(extra.get("magenta_peers")),
                cache,
                seed=options.seed,
                progress=progress,
            )
        self.model = MetaNetwork(self.config, head_gain=float(extra.get("head_gain") or 1.0)).to(ctx.device)
        # standardised over the paintings themselves (a resumed run keeps the values in its checkpoint)
        self.model.set_statistics_normalisation(originals[torch.isfinite(originals).all(1)])
        if extra.get("init"):  # e.g. the shipped fp16 model: a fresh machine continues from it with a new optimizer
            start = load_model(extra["init"], expect="MetaNetwork")
            # a plain model may start one with --affine-norm / --input-skip: their heads begin at the plain nets
            if start.config != self.config and replace(self.config, affine_norm=False, input_skip=False) != start.config:
                raise MobilestyleError(
                    f"--init {extra['init']} is a {start.config.base}-base {start.config.padding}-padded model, "
                    "not the --arch/--padding/--affine-norm/--input-skip asked for"
                )
            missing, _ = self.model.load_state_dict(start.model.state_dict(), strict=start.config == self.config)
            assert all(key.startswith(("norm_heads.", "skip_head.")) for key in missing)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=options.lr)
        self.lr_decay_steps = int(extra.get("lr_decay_steps") or 0)
        self.parameters = list(self.model.parameters())
        self.sample_style = int(self.usable_styles[0])
        self.balance_reference = 1.0
        if self.style_balance:
            self.balance_reference = self.typical_distance()
            log.info("--style-balance %g: typical photo-to-style distance %.4g", self.style_balance, self.balance_reference)

    # --- data: every batch is a function of (seed, step) -------------------------------------------------------

    def stage(self, step: int) -> tuple[str, int]:
        """('teacher' | 'perceptual', training side) at ``step``."""
        if step < self.teacher_steps:
            return "teacher", self.ctx.options.image_size
        if step >= self.ctx.options.steps - self.final_steps:
            return "perceptual", self.final_size
        return "perceptual", self.ctx.options.image_size

    def batch(self, step: int) -> dict[str, Any]:
        options = self.ctx.options
        generator = torch.Generator().manual_seed(options.seed * 1_000_003 + step * 7919 + self.ctx.rank)
        kind, size = self.stage(step)
        count = options.batch_size
        if kind == "teacher":
            assert self.teacher is not None
            index = torch.randint(len(self.teacher["content"]), (count,), generator=generator)
            images = [self.teacher["content"][index], self.teacher["target"][index]]
            styles = self.teacher["style_index"][index]
        else:
            images = [self.photos[torch.randint(len(self.photos), (count,), generator=generator)]]
            styles = self.usable_styles[torch.randint(len(self.usable_styles), (count,), generator=generator)]
        crops = _random_crops(images, size, generator, self.max_crop_scale)
        batch = {"kind": kind, "content": crops[0], "styles": styles}
        if self.style_noise and kind == "perceptual":  # drawn after the crops: the rest of the batch is unchanged
            batch["style_noise"] = self.style_noise * torch.randn(count, self.style_stats.shape[1], generator=generator)
        if kind == "teacher":
            batch["target"] = crops[1]
        return batch

    def batches(self, start: int) -> Iterator[dict[str, Any]]:
        return map(self.batch, itertools.count(start))

    # --- one step ----------------------------------------------------------------------------------------------

    def vgg_autocast(self) -> torch.autocast:
        return torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.bf16 or self.ctx.device.type == "cuda")

    def learning_rate(self, step: int) -> float:
        """--lr, decaying linearly to 0 over the last --lr-decay-steps of --steps (a function of the step: exact resume)."""
        left = self.ctx.options.steps - step
        if not self.lr_decay_steps or left >= self.lr_decay_steps:
            return self.ctx.options.lr
        return self.ctx.options.lr * left / self.lr_decay_steps

    def train_step(self, step: int, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        device = self.ctx.device
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(step)
        content = batch["content"].to(device)
        styles = batch["styles"]
        self.model.train()
        stats = self.device_stats[styles.to(device)]
        inputs = stats
        if "style_noise" in batch:  # the meta network reads perturbed statistics; the loss keeps the style's own
            noise = batch["style_noise"].to(device) * self.model.stats_scale
            inputs = torch.expm1(torch.log1p(stats) + noise).clamp_min(0)
        output = self.model.stylize_each(content, inputs)
        if batch["kind"] == "teacher":
            parts = self.teacher_loss(output, batch["target"].to(device))
        else:
            parts = self.perceptual_loss(output, content, stats)
        return optimizer_step(self.optimizer, self.parameters, parts, self.ctx.world)

    def teacher_loss(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Dense targets: pixel L1 + relu1_1 feature L1 (edges and local texture), both on the 0..255 scale."""
        conv = self.ctx.vgg.layers["conv1_1"]
        with self.vgg_autocast():
            got = torch.relu(conv(self.ctx.vgg.preprocess(output)))
            with torch.no_grad():
                want = torch.relu(conv(self.ctx.vgg.preprocess(target)))
        pixel = F.l1_loss(output, target)
        feature = F.l1_loss(got.float(), want.float())
        zero = torch.zeros((), device=output.device)
        return {"content_loss": pixel, "style_loss": feature, "tv_loss": zero, "total_loss": pixel + feature}

    def perceptual_loss(self, output: torch.Tensor, content: torch.Tensor, target_stats: torch.Tensor) -> dict[str, torch.Tensor]:
        """The paper's objective (and ``evaluate``'s): content MSE + weighted per-sample mean/std MSE + TV, plus the
        optional structure term (``--structure-weight``), counted in ``content_loss``."""
        weights = self.ctx.loss.weights
        with self.vgg_autocast():
            with torch.no_grad():  # the photo's content layers only (its style layers too for --style-balance)
                content_features = self.ctx.vgg(content, taps=None if self.style_balance else content_layers(weights))
            features = self.ctx.vgg(output)
        target = split_statistics(target_stats, weights.style_layers)
        style_each = style_distance_each(self.style_of(features), target)
        if self.style_balance:
            style_each = style_each * self.sample_style_weights(content_features, target)
        parts = {
            "content_loss": content_distance(weights, features, content_features),
            "style_loss": weights.style * style_each.mean(),
            "tv_loss": weights.tv * total_variation(output),
        }
        parts["total_loss"] = parts["content_loss"] + parts["style_loss"] + parts["tv_loss"]
        return parts

    # --- --style-balance: a per-sample style weight from how far the photo is from the style ---------------------

    def style_of(self, features: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Mean/std statistics of VGG features at the loss's style layers."""
        return split_statistics(style_statistics(features), self.ctx.loss.weights.style_layers)

    def sample_style_weights(self, photo_features: dict[str, torch.Tensor], target: Mapping[str, tuple[torch.Tensor, ...]]) -> torch.Tensor:
        """Each sample's style weight from its unchanged photo's own style distance to its style."""
        with torch.no_grad():
            return balance_weights(style_distance_each(self.style_of(photo_features), target), self.balance_reference, self.style_balance)

    @torch.no_grad()
    def typical_distance(self, photos: int = 32, styles: int = 256) -> float:
        """``balance_reference`` over a fixed sample of training pairs (a function of the seed: a resumed run gets
        the same value)."""
        generator = torch.Generator().manual_seed(self.ctx.options.seed + 17)
        chosen = self.photos[torch.randperm(len(self.photos), generator=generator)[:photos]].float()
        rows = self.usable_styles[torch.randperm(len(self.usable_styles), generator=generator)[:styles]]
        size = self.ctx.options.image_size
        chosen = F.interpolate(chosen, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        layers = self.ctx.loss.weights.style_layers
        distances = []
        for start in range(0, len(chosen), 8):
            with self.vgg_autocast():
                features = self.ctx.vgg(chosen[start : start + 8].to(self.ctx.device))
            photo = self.style_of(features)
            for row in rows:
                target = split_statistics(self.device_stats[row : row + 1], layers)
                distances.append(style_distance_each(photo, target).cpu())
        return balance_reference(torch.cat(distances), self.style_balance)

    # --- what the loop asks for --------------------------------------------------------------------------------

    @torch.no_grad()
    def samples(self, contents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.style_files[self.sample_style]
        style = image_to_tensor(resize_short_side(load_image(path), STYLE_SIZE))
        net = self.model.emit(self.device_stats[self.sample_style : self.sample_style + 1]).to(self.ctx.device)
        return style, net(contents)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def checkpoint_meta(self) -> dict[str, Any]:
        return {"net": self.config.to_dict(), "model_class": "MetaNetwork", "style_size": STYLE_SIZE}


def _random_crops(images: list[torch.Tensor], size: int, generator: torch.Generator, max_scale: float = 2.0) -> list[torch.Tensor]:
    """The same random square crop, flip and resize for each list entry: crop sides between ``size`` and
    ``size * max_scale`` (at most the full side), resized to ``size``. ``max_scale`` 1 keeps the photos' own scale
    (the cached squares are at the 256 px that ``evaluate`` uses); 2 also shows them zoomed out up to 2x."""
    count, side = images[0].shape[0], images[0].shape[-1]
    largest = max(size, min(side, round(size * max_scale)))
    outs: list[list[torch.Tensor]] = [[] for _ in images]
    for i in range(count):
        crop = int(torch.randint(size, largest + 1, (1,), generator=generator))
        top, left = (int(torch.randint(side - crop + 1, (1,), generator=generator)) for _ in range(2))
        flip = bool(torch.rand((), generator=generator) < 0.5)
        for out, batch in zip(outs, images):
            patch = batch[i : i + 1, :, top : top + crop, left : left + crop].float()
            if crop != size:
                patch = F.interpolate(patch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            out.append(patch.flip(-1) if flip else patch)
    return [torch.cat(out).clamp(0, 255) for out in outs]
