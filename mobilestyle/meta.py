"""Shen et al.'s meta network: VGG style statistics -> hidden vector -> transformation-net weights.

1920 mean/std statistics -> FC -> 1792 hidden values = 14 slices of 128, one per generated conv; one
FC head per slice emits that conv's weights. With ``affine_norm`` (an extension, docs/training.md section 6),
a second head per slice emits the per-channel scale and shift of the instance norm after that conv: how
strongly each block acts, set per style. With ``input_skip``, one more head reads the whole hidden vector and
emits the three gains of the net's photo skip (transformer.py). conv0 and the output conv do not depend on the style:
they are ordinary parameters of the one ``TransformNet`` this module holds. ``params`` returns a full
parameter dict for ``torch.func.functional_call`` on that net, and ``emit`` bakes them into a
standalone copy: there is no second definition of the architecture.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, vmap

from mobilestyle.transformer import NetConfig, TransformNet
from mobilestyle.vgg import TAP_CHANNELS, TAPS

STATS_DIM = 2 * sum(TAP_CHANNELS[t] for t in TAPS)  # 1920
SLICE = 128
# Standardised statistics are clipped to +-Z_CLIP before the meta network reads them. The 33 eval paintings reach
# |z| = 14.7 (4 % of values beyond 3) where the 1,948 training paintings stay under 8.5 (0.65 %), and a flat colour
# or noise image reaches 25. Measured on the shipped model (docs/training.md section 6): neutral on held-out paintings
# (-0.9 % total on 33), -11 % on out-of-range style images: a guard against extrapolation.
Z_CLIP = 3.0
# The norm heads read the hidden code scaled by this (part of a model's format). The shipped model's hidden values
# are ~10 each (a slice's absolute sum 600-2300) and Adam moves each head weight by about lr per step: unscaled, the
# style loss tripled within 4 steps at lr 1e-4; at 0.01 the scales moved < 0.002 in 100 steps; 0.1 and 0.3 were
# measured over 300 steps (docs/training.md section 6, eighth session: both worse than the plain model).
NORM_HEAD_INPUT_SCALE = 0.1
# The skip head reads the hidden code divided by its own mean, times this (part of a model's format: a model trained
# with one value reads differently with another). After 300 steps at lr 1e-4 the gains averaged 0.08 at 1/64 and
# 0.11 at 1/8, with the better content ratio at 1/8 (docs/training.md section 6, eighth session).
SKIP_HEAD_INPUT_SCALE = 1 / 8


def _derive_clip_after_load(module: MetaNetwork, _incompatible_keys: object) -> None:
    module._derive_clip()  # a module-level function, not a lambda: the module stays picklable


class MetaNetwork(nn.Module):
    stats_center: torch.Tensor
    stats_scale: torch.Tensor

    def __init__(self, config: NetConfig | None = None, slice_size: int = SLICE, head_gain: float = 0.1) -> None:
        super().__init__()
        self.config = config or NetConfig()
        self.net = TransformNet(self.config)
        self.conv_names = self.net.generated_parameter_names()
        self.norm_names = self.net.generated_norm_parameter_names() if self.config.affine_norm else []
        self.generated = self.conv_names + [name for pair in self.norm_names for name in pair]
        if self.config.input_skip:
            self.generated.append("skip")
        self.shapes = {name: tuple(self.net.get_parameter(name).shape) for name in self.generated}
        self.slice_size = slice_size
        self.hidden = nn.Linear(STATS_DIM, slice_size * len(self.conv_names))
        self.heads = nn.ModuleList(nn.Linear(slice_size, math.prod(self.shapes[n])) for n in self.conv_names)
        self._init_heads(head_gain)
        # one head per slice emits [scale | shift] of the norm after that conv; it starts at the identity
        # (scale 1, shift 0, no dependence on the style), so a plain model loads into it unchanged
        norm_heads = [nn.Linear(slice_size, 2 * self.shapes[scale][0]) for scale, _ in self.norm_names]
        with torch.no_grad():
            for head in norm_heads:
                head.weight.zero_()
                head.bias.copy_(torch.cat([torch.ones(head.out_features // 2), torch.zeros(head.out_features // 2)]))
        self.norm_heads = nn.ModuleList(norm_heads)
        # the skip gains start at 0 (the plain model's nets)
        self.skip_head = nn.Linear(slice_size * len(self.conv_names), 3) if self.config.input_skip else None
        if self.skip_head is not None:
            nn.init.zeros_(self.skip_head.weight)
            nn.init.zeros_(self.skip_head.bias)
        # log1p(statistics) are standardised with a centre and scale measured over the training styles
        # (``set_statistics_normalisation``); stored with the model. Defaults (0, 1) leave log1p alone.
        self.register_buffer("stats_center", torch.zeros(STATS_DIM))
        self.register_buffer("stats_scale", torch.ones(STATS_DIM))
        # derived from the buffers whenever they are set (not on every call: on a GPU each check would sync)
        self.z_clip: float | None = None
        self.register_load_state_dict_post_hook(_derive_clip_after_load)
        # The generated weights live in the heads; the template's copies are not parameters.
        for name in self.generated:
            module_name, _, attr = name.rpartition(".")
            module = self.net.get_submodule(module_name)
            template = getattr(module, attr).detach()
            del module._parameters[attr]
            module.register_buffer(attr, template, persistent=False)

    def _init_heads(self, gain: float) -> None:
        """Start from a sensible random net: bias = Kaiming-initialised weights; ``gain`` sets how much the
        emitted weights depend on the style at the start (0.1: ~3 % across styles; 1.0 with standardised
        statistics: the emitted weights differ by style from step 0)."""
        for name, head in zip(self.conv_names, self.heads):
            shape = self.shapes[name]
            fan_in = shape[1] * shape[2] * shape[3] if "up" not in name else shape[0] * shape[2] * shape[3]
            std = math.sqrt(2.0 / fan_in)
            assert isinstance(head, nn.Linear)
            nn.init.normal_(head.bias, 0.0, std)
            nn.init.normal_(head.weight, 0.0, gain * std / math.sqrt(self.slice_size))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # models saved before the statistics were standardised have no centre/scale: log1p alone
        for name, default in (("stats_center", 0.0), ("stats_scale", 1.0)):
            state_dict.setdefault(prefix + name, torch.full((STATS_DIM,), default))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def set_statistics_normalisation(self, stats: torch.Tensor) -> None:
        """Standardise each log1p statistic over a set of training styles (N x 1920)."""
        logs = torch.log1p(stats.double())
        self.stats_center.copy_(logs.mean(0).float())
        self.stats_scale.copy_(logs.std(0).clamp_min(1e-3).float())
        self._derive_clip()

    def _derive_clip(self) -> None:
        """Clip at Z_CLIP only standardised statistics: models saved before them (centre 0, scale 1) read log1p alone."""
        standardised = bool(self.stats_center.any() or (self.stats_scale != 1).any())
        self.z_clip = Z_CLIP if standardised else None

    def normalize_statistics(self, stats: torch.Tensor) -> torch.Tensor:
        """VGG means/stds span three orders of magnitude across taps: log1p, then standardised per value and
        clipped to the training styles' range (Z_CLIP)."""
        z = (torch.log1p(stats.float()) - self.stats_center) / self.stats_scale
        return z if self.z_clip is None else z.clamp(-self.z_clip, self.z_clip)

    def hidden_code(self, stats: torch.Tensor) -> torch.Tensor:
        """B x 1920 statistics -> B x 1792 hidden vectors (the space the paper interpolates in)."""
        return torch.relu(self.hidden(self.normalize_statistics(stats)))

    def weights_from_code(self, code: torch.Tensor) -> dict[str, torch.Tensor]:
        """B x 1792 hidden vectors -> {parameter name: B x weight shape}."""
        slices = code.split(self.slice_size, dim=1)
        weights: dict[str, torch.Tensor] = {}
        for name, head, part in zip(self.conv_names, self.heads, slices):
            weights[name] = head(part).view(code.shape[0], *self.shapes[name])
        for (scale, shift), head, part in zip(self.norm_names, self.norm_heads, slices):
            weights[scale], weights[shift] = head(part * NORM_HEAD_INPUT_SCALE).chunk(2, dim=1)
        if self.skip_head is not None:
            # the code relative to its own mean (values ~1, whatever the model's scale)
            relative = code / code.mean(1, keepdim=True).clamp_min(1e-6)
            weights["skip"] = self.skip_head(relative * SKIP_HEAD_INPUT_SCALE)
        return weights

    def params(self, stats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameters of ``self.net`` for one style (stats 1 x 1920), for functional_call."""
        if stats.dim() != 2 or stats.shape[0] != 1:
            raise ValueError("params() takes the statistics of exactly one style (1 x 1920)")
        generated = {k: v[0] for k, v in self.weights_from_code(self.hidden_code(stats)).items()}
        own = dict(self.net.named_parameters())
        return {**own, **generated}

    def stylize(self, content: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Run the transformation net with generated parameters on a content batch (0..255 RGB)."""
        return functional_call(self.net, params, (content,))

    def stylize_each(self, content: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """Per-sample styles: content B x 3 x H x W, statistics B x 1920 -> B outputs, each through its own net."""
        generated = self.weights_from_code(self.hidden_code(stats))
        own = dict(self.net.named_parameters())

        def one(weights: dict[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
            return functional_call(self.net, {**own, **weights}, (image[None],))[0]

        return vmap(one)(generated, content)

    @torch.no_grad()
    def emit(self, stats: torch.Tensor) -> TransformNet:
        """A standalone TransformNet with this style's weights baked in (eval mode, fp32, CPU)."""
        params = self.params(stats)
        net = TransformNet(self.config)
        net.load_state_dict({k: v.detach().float().cpu() for k, v in params.items()}, strict=True)
        return net.eval()


def generated_sizes(config: NetConfig) -> list[int]:
    net = TransformNet(config)
    return [net.get_parameter(n).numel() for n in net.generated_parameter_names()]
