"""High-resolution photos by tiles, with bounded memory.

A TransformNet is local except for its 14 instance norms, whose per-channel mean and variance are taken over
the whole picture. Run tile by tile, each tile would normalise with its own statistics and the tiles would
differ in tone. So:

1. one downscaled pass (long side ``stats_side``) records every norm's per-channel mean and variance
   (``norm_statistics``);
2. a copy of the net whose norms use those fixed values (``fixed_norm_net``) runs on overlapping tiles. The
   net's receptive field is +-57 px (9x9 conv, two stride-2 convs, ten 3x3 convs at 1/4 resolution, two x2
   upsamplers, 9x9 conv), so a tile read with ``margin`` >= 60 px of context around its core gives exactly what
   the same fixed-norm net gives on the whole picture; tiles start on multiples of 4 (the stride-2 phase);
3. neighbouring cores overlap by ``feather`` px and are blended with linear ramps (a safety net for smaller
   margins; with the default margin the overlap holds equal values).

The only difference from full-frame inference is then the statistics (downscaled vs full): docs/controls.md.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from mobilestyle.transformer import InstanceNorm

EPS = 1e-5
DEFAULT_MARGIN = 64
DEFAULT_FEATHER = 32
DEFAULT_STATS_SIDE = 1024
NormStats = list[tuple[torch.Tensor, torch.Tensor]]


def _norms(net: nn.Module) -> list[tuple[str, InstanceNorm]]:
    return [(name, m) for name, m in net.named_modules() if isinstance(m, InstanceNorm)]


@torch.no_grad()
def norm_statistics(net: nn.Module, rgb: torch.Tensor) -> NormStats:
    """(mean, biased variance) of each instance norm's input, 1 x C x 1 x 1 each, in module order, for ``rgb`` (1x3xHxW)."""
    found: NormStats = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].double()
        found.append((x.mean((2, 3), keepdim=True).float(), x.var((2, 3), unbiased=False, keepdim=True).float()))

    handles = [m.register_forward_pre_hook(hook) for _, m in _norms(net)]
    try:
        net.eval()(rgb)
    finally:
        for handle in handles:
            handle.remove()
    return found


class FixedNorm(nn.Module):
    """An instance norm that uses given statistics instead of the input's."""

    mean: torch.Tensor
    inv_std: torch.Tensor

    def __init__(self, norm: InstanceNorm, mean: torch.Tensor, var: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("inv_std", torch.rsqrt(var + EPS))
        self.affine = norm.affine
        if norm.affine:
            self.weight = nn.Parameter(norm.weight.detach().clone().view(1, -1, 1, 1), requires_grad=False)
            self.bias = nn.Parameter(norm.bias.detach().clone().view(1, -1, 1, 1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) * self.inv_std
        return y * self.weight + self.bias if self.affine else y


def fixed_norm_net(net: nn.Module, stats: NormStats) -> nn.Module:
    """A copy of ``net`` whose instance norms use ``stats`` (from ``norm_statistics``)."""
    clone = copy.deepcopy(net).eval()
    norms = _norms(clone)
    if len(norms) != len(stats):
        raise ValueError(f"{len(stats)} statistics for {len(norms)} instance norms")
    for (name, norm), (mean, var) in zip(norms, stats):
        parent_name, _, attr = name.rpartition(".")
        parent = clone.get_submodule(parent_name) if parent_name else clone
        setattr(parent, attr, FixedNorm(norm, mean, var))
    return clone


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def downscaled(rgb: torch.Tensor, long_side: int) -> torch.Tensor:
    """``rgb`` (1x3xHxW) with its long side at most ``long_side``, sides multiples of 4 (area-like antialiased resize)."""
    height, width = rgb.shape[2:]
    scale = min(1.0, long_side / max(height, width))
    size = (max(4, round(height * scale / 4) * 4), max(4, round(width * scale / 4) * 4))
    if size == (height, width):
        return rgb
    return F.interpolate(rgb, size=size, mode="bilinear", antialias=True, align_corners=False)


def starts(length: int, core: int, feather: int) -> list[int]:
    """Core start positions along one axis (multiples of 4): cores of ``core`` px overlapping by >= ``feather``."""
    if length <= core:
        return [0]
    step = core - feather
    positions = list(range(0, length - core, step)) + [length - core]
    return sorted({p // 4 * 4 for p in positions})


def _ramp(length: int, start: int, core: int, overlap_before: int, overlap_after: int) -> np.ndarray:
    """Blend weights of one core along an axis: linear ramps over its overlaps with the previous/next core."""
    weight = np.ones(core, np.float32)
    if overlap_before > 0:
        weight[:overlap_before] = (np.arange(overlap_before, dtype=np.float32) + 0.5) / overlap_before
    if overlap_after > 0:
        weight[core - overlap_after :] = np.minimum(
            weight[core - overlap_after :], (np.arange(overlap_after, 0, -1, dtype=np.float32) - 0.5) / overlap_after
        )
    return weight


def _axis_plan(length: int, core: int, feather: int) -> list[tuple[int, int, np.ndarray]]:
    """(core start, core length, blend weights) per tile along one axis."""
    core = min(core, length)
    positions = starts(length, core, feather)
    plan = []
    for i, s in enumerate(positions):
        before = positions[i - 1] + core - s if i > 0 else 0
        after = s + core - positions[i + 1] if i + 1 < len(positions) else 0
        plan.append((s, core, _ramp(length, s, core, max(before, 0), max(after, 0))))
    return plan


def _tiles(height: int, width: int, core: int, feather: int):
    """(core row, core height, row weights, core column, core width, column weights) of every tile."""
    for y, h, wy in _axis_plan(height, core, feather):
        for x, w, wx in _axis_plan(width, core, feather):
            yield y, h, wy, x, w, wx


def _window(y: int, h: int, x: int, w: int, margin: int, height: int, width: int) -> tuple[int, int, int, int]:
    return max(0, y - margin), max(0, x - margin), min(height, y + h + margin), min(width, x + w + margin)


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the norm being measured has been seen."""


@torch.no_grad()
def measure_norm(
    net: nn.Module, rgb: np.ndarray, stats: NormStats, index: int, core: int, margin: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole picture's mean and variance of norm ``index``'s input at full resolution, tile by tile, with the norms
    before it fixed to ``stats`` (every pixel counted once: disjoint cores; each pass stops at that norm)."""
    height, width = rgb.shape[:2]
    fixed = fixed_norm_net(net, stats)
    norm = [m for m in fixed.modules() if isinstance(m, FixedNorm)][index]
    total = torch.zeros_like(stats[index][0], dtype=torch.float64)
    square = torch.zeros_like(total)
    count = 0
    crop: dict[str, int] = {}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        nonlocal total, square, count
        x = inputs[0]
        scale = crop["rows"] // x.shape[2]  # the norm's input is the tile at 1, 1/2 or 1/4 resolution
        part = x[
            :, :, crop["y"] // scale : (crop["y"] + crop["h"]) // scale, crop["x"] // scale : (crop["x"] + crop["w"]) // scale
        ].double()
        total += part.sum((2, 3), keepdim=True)
        square += part.square().sum((2, 3), keepdim=True)
        count += part.shape[2] * part.shape[3]
        raise _Stop

    handle = norm.register_forward_pre_hook(record)
    try:
        for y in range(0, height, core):
            for x in range(0, width, core):
                h, w = min(core, height - y), min(core, width - x)
                top, left, bottom, right = _window(y, h, x, w, margin, height, width)
                crop.update(y=y - top, h=h, x=x - left, w=w, rows=bottom - top)
                with contextlib.suppress(_Stop):
                    fixed(_to_tensor(rgb[top:bottom, left:right]))
    finally:
        handle.remove()
    mean = total / count
    return mean.float(), (square / count - mean.square()).clamp_min(0).float()


def exact_statistics(net: nn.Module, rgb: np.ndarray, core: int, margin: int, progress: bool = False) -> NormStats:
    """Every norm's statistics over the whole full-resolution picture, in bounded memory: one tiled pass per norm,
    in order (norm k's input depends only on norms < k, already exact), each stopping at its norm. About 7x the
    cost of one full pass for the 14 norms (measured in docs/controls.md)."""
    stats = norm_statistics(net, torch.full((1, 3, 64, 64), 127.5))  # placeholders of the right shapes
    for index in tqdm(range(len(stats)), disable=not progress, unit="norm", desc="statistics"):
        stats[index] = measure_norm(net, rgb, stats, index, core, margin)
    return stats


@torch.no_grad()
def stylize_tiled(
    net: nn.Module,
    rgb: np.ndarray,
    tile: int = 512,
    *,
    margin: int = DEFAULT_MARGIN,
    feather: int = DEFAULT_FEATHER,
    stats_side: int | None = DEFAULT_STATS_SIDE,
    exact: bool = False,
    stats: NormStats | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Stylize an H x W x 3 picture (0..255, sides multiples of 4) tile by tile; returns H x W x 3 float32.

    ``tile``: side of the input each pass reads (core + 2 ``margin``). Norm statistics: ``stats`` if given, else a
    pass on the picture downscaled to long side ``stats_side`` (``None``: the whole picture, unbounded memory), or with
    ``exact`` the full-resolution picture's own, measured tile by tile (``exact_statistics``: ~7x slower).
    """
    height, width = rgb.shape[:2]
    if height % 4 or width % 4:
        raise ValueError("tiled stylization needs sides that are multiples of 4")
    if margin % 4 or feather % 4 or tile % 4:
        raise ValueError("tile, margin and feather must be multiples of 4")
    core = tile - 2 * margin
    if core < max(feather * 2, 16):
        raise ValueError(f"tile {tile} leaves a core of {core} px with margin {margin}: use a larger tile")
    net = net.eval()
    if stats is None and exact:
        stats = exact_statistics(net, rgb, core, margin, progress)
    elif stats is None:
        whole = _to_tensor(rgb)
        stats = norm_statistics(net, downscaled(whole, stats_side) if stats_side else whole)
        del whole
    fixed = fixed_norm_net(net, stats)
    out = np.zeros((height, width, 3), np.float32)
    total = np.zeros((height, width, 1), np.float32)
    plan = list(_tiles(height, width, core, feather))
    for y, h, wy, x, w, wx in tqdm(plan, disable=not progress, unit="tile", desc="tiles"):
        top, left, bottom, right = _window(y, h, x, w, margin, height, width)
        result = fixed(_to_tensor(rgb[top:bottom, left:right]))[0].permute(1, 2, 0).numpy()
        weight = (wy[:, None] * wx[None, :])[..., None]
        out[y : y + h, x : x + w] += weight * result[y - top : y - top + h, x - left : x - left + w]
        total[y : y + h, x : x + w] += weight
    out /= total
    return out


def per_tile_starts(length: int, side: int, feather: int) -> list[int]:
    """The web demo's tile origins along one axis (src/tiles.js): first at 0, last at
    length - side, evenly spread so that neighbours overlap by at least ``feather`` px."""
    if not 0 < feather < side:
        raise ValueError(f"feather {feather} must be between 0 and the tile side {side}")
    if length <= side:
        return [0]
    n = -(-(length - feather) // (side - feather))
    return [i * (length - side) // (n - 1) for i in range(n)]


def stylize_per_tile(run: Callable[[np.ndarray], np.ndarray], rgb: np.ndarray, side: int, feather: int = 64) -> np.ndarray:
    """What the web demo does with an exported file of fixed ``side`` (HxWx3 in, float HxWx3 out): every tile normalised
    with its own instance-norm statistics (a file has no input for fixed ones), overlaps blended with linear ramps.
    The reference the demos are tested against, and what benchmarks/controls.py compares with the full frame."""
    offsets = np.arange(side)
    ramp = np.minimum(1.0, np.minimum((offsets + 0.5) / feather, (side - offsets - 0.5) / feather))
    weight = (ramp[:, None] * ramp[None, :])[..., None]
    total = np.zeros(rgb.shape)
    weights = np.zeros((*rgb.shape[:2], 1))
    for y in per_tile_starts(rgb.shape[0], side, feather):
        for x in per_tile_starts(rgb.shape[1], side, feather):
            total[y : y + side, x : x + side] += weight * run(np.ascontiguousarray(rgb[y : y + side, x : x + side], np.float32))
            weights[y : y + side, x : x + side] += weight
    return total / weights


def feather_for(tile: int) -> int:
    """The demos' feather for a file of side ``tile``: DEFAULT_FEATHER, less under 128 px (the Java Tiler's featherFor)."""
    return max(4, min(DEFAULT_FEATHER, tile // 16 * 4))


def margin_for(tile: int) -> int:
    """The demos' context margin for a file of side ``tile``: DEFAULT_MARGIN, less where the core would drop under
    max(2 feather, 16) px (the Java Tiler's marginFor)."""
    min_core = max(2 * feather_for(tile), 16)
    return max(0, min(DEFAULT_MARGIN, (tile - min_core) // 2 // 4 * 4))


def window_start(core_start: int, length: int, tile: int, margin: int) -> int:
    """First row (column) of the ``tile``-wide window around a core starting at ``core_start``, inside the photo."""
    return min(max(0, core_start - margin), length - tile)


def stylize_windows(
    run: Callable[[np.ndarray], np.ndarray], rgb: np.ndarray, tile: int, margin: int = DEFAULT_MARGIN, feather: int = DEFAULT_FEATHER
) -> np.ndarray:
    """The tile plan of ``stylize_tiled`` for a file of fixed side ``tile`` (the Java core's Tiler, the web demo with
    a norm-statistics file): cores of ``tile - 2 margin`` px blended as in ``stylize_tiled``, each read from a
    ``tile``² window (edge windows shifted inwards). With fixed statistics and ``margin`` >= 60 px the result is the
    full frame's. HxWx3 in (both sides >= ``tile``), float HxWx3 out."""
    height, width = rgb.shape[:2]
    if min(height, width) < tile or tile - 2 * margin < max(2 * feather, 16):
        raise ValueError(f"a {height}x{width} photo, tile {tile}, margin {margin}, feather {feather}: no plan")
    out = np.zeros(rgb.shape, np.float64)
    total = np.zeros((height, width, 1), np.float64)
    for y, h, wy, x, w, wx in _tiles(height, width, tile - 2 * margin, feather):
        top, left = window_start(y, height, tile, margin), window_start(x, width, tile, margin)
        result = run(np.ascontiguousarray(rgb[top : top + tile, left : left + tile], np.float32))
        weight = (wy[:, None] * wx[None, :])[..., None]
        out[y : y + h, x : x + w] += weight * result[y - top : y - top + h, x - left : x - left + w]
        total[y : y + h, x : x + w] += weight
    return (out / total).astype(np.float32)
