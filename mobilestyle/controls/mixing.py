"""Mix styles: one transformation net from several styles' statistics and mixing weights.

Where the mix is taken (``MIX_SPACES``; docs/controls.md compares them with pictures and losses):

- ``hidden``: the meta network's hidden codes (after the ReLU; Shen et al.'s interpolation), then the heads.
- ``weights``: the emitted nets' weights. Each head is one linear layer, so for weights that sum to 1 this is
  the same function as ``hidden`` (head(sum w_i c_i) = sum w_i head(c_i)): kept as the reference it is compared to.
- ``pre-relu`` (the default): the hidden layer's outputs before its ReLU (codes that are zero in one style can mix in).
- ``statistics``: the log1p VGG statistics the meta network reads. The hidden layer before its ReLU is affine in
  them, so this is the same function as ``pre-relu``.

So there are two different mixes: after the ReLU (= the emitted weights) and before it (= the statistics). Before
it measures better (a lower loss against the mixed style's statistics, on 2 pairs x 3 steps) and moves more evenly
from one style to the other: docs/controls.md, benchmarks/controls.py.

Mixing weights must be >= 0 and are normalised to sum to 1 (a mix, not an extrapolation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mobilestyle.errors import MobilestyleError
from mobilestyle.meta import MetaNetwork
from mobilestyle.transformer import TransformNet

MIX_SPACES = ("hidden", "weights", "pre-relu", "statistics")
DEFAULT_SPACE = "pre-relu"


def parse_mix(text: str, n_styles: int) -> list[float]:
    """``--mix`` -> one weight per style, summing to 1.

    Two styles: one number t in 0..1 is the second style's share (0 = the first style alone). Otherwise one
    non-negative weight per style, comma-separated, normalised to sum 1 (``0.2,0.3,0.5``).
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MobilestyleError(f"--mix {text!r}: give numbers, e.g. 0.3 or 0.2,0.3,0.5") from None
    if n_styles < 2:
        raise MobilestyleError("--mix needs at least two style images")
    if len(values) == 1 and n_styles == 2:
        t = values[0]
        if not 0.0 <= t <= 1.0:
            raise MobilestyleError(f"--mix {t:g}: with two styles give the second style's share, 0..1")
        return [1.0 - t, t]
    if len(values) != n_styles:
        raise MobilestyleError(f"--mix has {len(values)} weights for {n_styles} styles; give one per style")
    if any(v < 0 or v != v for v in values) or sum(values) <= 0:
        raise MobilestyleError(f"--mix {text!r}: weights must be >= 0 and not all 0")
    total = sum(values)
    return [v / total for v in values]


def _weights_tensor(weights: Sequence[float], n: int) -> torch.Tensor:
    if len(weights) != n:
        raise ValueError(f"{len(weights)} mixing weights for {n} styles")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("mixing weights must be >= 0 and not all 0")
    return (w / w.sum()).view(-1, 1)


@torch.no_grad()
def net_from_code(model: MetaNetwork, code: torch.Tensor) -> TransformNet:
    """A standalone TransformNet for one hidden code (1 x 1792, after the ReLU)."""
    generated = {k: v[0] for k, v in model.weights_from_code(code.float()).items()}
    params = {**dict(model.net.named_parameters()), **generated}
    net = TransformNet(model.config)
    net.load_state_dict({k: v.detach().float().cpu() for k, v in params.items()}, strict=True)
    return net.eval()


@torch.no_grad()
def mix_nets(model: MetaNetwork, stats: torch.Tensor, weights: Sequence[float], space: str = DEFAULT_SPACE) -> TransformNet:
    """K styles' statistics (K x 1920) and K weights -> one TransformNet, mixed in ``space``."""
    if stats.dim() != 2 or stats.shape[0] < 1:
        raise ValueError("stats must be K x 1920")
    w = _weights_tensor(weights, stats.shape[0]).to(stats.device)
    if space == "hidden":
        return net_from_code(model, (w * model.hidden_code(stats)).sum(0, keepdim=True))
    if space == "pre-relu":
        pre = model.hidden(model.normalize_statistics(stats))
        return net_from_code(model, torch.relu((w * pre).sum(0, keepdim=True)))
    if space == "statistics":
        logs = (w * torch.log1p(stats.double())).sum(0, keepdim=True)
        return model.emit(torch.expm1(logs).float())
    if space == "weights":
        nets = [model.emit(stats[i : i + 1]) for i in range(stats.shape[0])]
        return mix_weights(nets, w.view(-1).tolist())
    raise ValueError(f"unknown mixing space {space!r}; choose from {', '.join(MIX_SPACES)}")


@torch.no_grad()
def mix_weights(nets: Sequence[TransformNet], weights: Sequence[float]) -> TransformNet:
    """The weighted mean of same-architecture nets' parameters (what interpolating emitted weights means)."""
    w = _weights_tensor(weights, len(nets)).view(-1).tolist()
    states = [n.state_dict() for n in nets]
    mixed = {k: sum(wi * s[k].float() for wi, s in zip(w, states)) for k in states[0]}
    net = TransformNet(nets[0].config)
    net.load_state_dict(mixed, strict=True)
    return net.eval()
