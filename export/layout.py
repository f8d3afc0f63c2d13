"""Where each weight of the export graph lands inside a converted file, so a new style is a byte patch.

A *template* is a conversion of the export graph whose tensors hold unique, exactly representable
values: element k of the flattened graph state holds ``INDEX_BASE + k``. Converters transpose kernels
(OHWI), flip transposed-conv kernels, and fold constant arithmetic into weights (``conv * 127.5`` ->
``conv`` with scaled weights); locating every value in the file's float regions recovers a permutation,
and a per-region affine fit (value = scale * weight + shift) recovers folds. The mapping must cover
every graph element exactly once, else :class:`LayoutError` and the caller converts afresh.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

INDEX_BASE = float(1 << 20)
_MAX_EXACT = 1 << 24  # float32 holds every integer below this exactly


class LayoutError(RuntimeError):
    """The converter changed the weights in a way the template cannot map (a fresh conversion is needed)."""


@dataclass
class Region:
    """A run of numbers inside one file of a converted model."""

    file: str
    offset: int
    values: np.ndarray  # float32 view of the region


@dataclass
class Slot:
    """One region to rewrite per style: ``dtype(scale * weights[index] + shift)`` at ``offset`` of ``file``."""

    file: str
    offset: int
    dtype: str
    index: np.ndarray
    scale: float = 1.0
    shift: float = 0.0

    def encode(self, flat: np.ndarray) -> bytes:
        values = flat[self.index]
        if self.scale != 1.0 or self.shift != 0.0:
            values = values * np.float32(self.scale) + np.float32(self.shift)
        return np.ascontiguousarray(values, dtype=np.float32).astype(self.dtype).tobytes()


@dataclass
class Layout:
    slots: list[Slot]
    n_values: int
    notes: list[str] = field(default_factory=list)

    def patch(self, files: dict[str, bytes], flat: np.ndarray) -> dict[str, bytes]:
        """Copies of ``files`` with every slot rewritten from ``flat`` (the graph's flattened weights)."""
        if flat.size != self.n_values:
            raise LayoutError(f"the graph has {flat.size} weights, the template {self.n_values}")
        out = {name: bytearray(data) for name, data in files.items()}
        for slot in self.slots:
            data = slot.encode(flat)
            out[slot.file][slot.offset : slot.offset + len(data)] = data
        return {name: bytes(data) for name, data in out.items()}


def graph_tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The floating-point tensors (parameters and buffers) that make up the module's weights, in a fixed order."""
    return [(name, t) for name, t in module.state_dict(keep_vars=True).items() if t.is_floating_point()]


def flat_weights(module: nn.Module) -> np.ndarray:
    """Every graph weight, flattened in :func:`graph_tensors` order, as float32."""
    with torch.no_grad():
        parts = [t.detach().reshape(-1).float() for _, t in graph_tensors(module)]
    return torch.cat(parts).numpy() if parts else np.zeros(0, np.float32)


def indexed_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose k-th weight element holds INDEX_BASE + k."""
    clone = copy.deepcopy(module).eval()
    start = 0
    with torch.no_grad():
        for _, tensor in graph_tensors(clone):
            n = tensor.numel()
            tensor.copy_(torch.arange(start, start + n, dtype=torch.float64).add_(INDEX_BASE).reshape(tensor.shape))
            start += n
    if INDEX_BASE + start >= _MAX_EXACT:
        raise LayoutError(f"{start} weights are too many for exact float32 indices")
    return clone


def seeded_copy(module: nn.Module, seed: int = 1234) -> nn.Module:
    """A copy with distinct, small, fp16-representable random weights (structure templates for fp16 files)."""
    clone = copy.deepcopy(module).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in graph_tensors(clone):
            values = torch.randn(tensor.shape, generator=generator) * 0.05
            tensor.copy_(values.half().float())
    return clone


def _snap(scale: float) -> float:
    """Round a fitted scale to the simplest dyadic number within float32 noise (127.5, 0.5, ...)."""
    for bits in range(0, 30):
        candidate = round(scale * 2**bits) / 2**bits
        if candidate and abs(candidate - scale) <= 1e-6 * abs(scale):
            return float(np.float32(candidate))
    return float(np.float32(scale))


def _tensor_ranges(n_values: int, sizes: list[int]) -> list[tuple[int, int]]:
    starts = np.cumsum([0, *sizes])
    return [(int(starts[i]), int(starts[i + 1])) for i in range(len(sizes))]


def _affine_fit(values: np.ndarray, start: int) -> tuple[float, float, np.ndarray] | None:
    """Fit values = scale * (INDEX_BASE + start + rank) + shift; return (scale, shift, index) or None.

    A pure scale (a folded ``conv * c``) is read from the element ratios, which float32 gives to ~1e-7;
    otherwise scale and shift come from a line through the ranks (needs longer regions to be exact).
    """
    n = values.size
    order = np.argsort(values.astype(np.float64), kind="stable")
    template = INDEX_BASE + start + np.arange(n, dtype=np.float64)
    for sign in (1, -1):
        sorted_values = values[order].astype(np.float64)
        target = template if sign == 1 else template[::-1]
        ratios = sorted_values / target
        scale, shift = float(np.median(ratios)), 0.0
        if scale == 0 or np.abs(ratios - scale).max() > 1e-6 * abs(scale):
            ranks = target - INDEX_BASE - start
            (scale, offset), *_ = np.linalg.lstsq(np.stack([ranks, np.ones(n)], axis=1), sorted_values, rcond=None)
            shift = offset - scale * (INDEX_BASE + start)
        if scale == 0 or not np.isfinite(scale):
            continue
        residual = np.abs(sorted_values - (scale * target + shift)).max()
        if residual > 0.25 * abs(scale) or abs(shift) > 1e-3 * abs(scale) * INDEX_BASE:
            continue
        index = np.empty(n, dtype=np.int64)
        index[order] = (target - INDEX_BASE).astype(np.int64)
        return _snap(scale), float(np.float32(shift)), index
    return None


def locate(regions: list[Region], tensor_sizes: list[int]) -> Layout:
    """Map every template value to where it sits in ``regions`` (exact first, then folded regions)."""
    n_values = int(sum(tensor_sizes))
    ranges = _tensor_ranges(n_values, tensor_sizes)
    owner = np.full(n_values, -1, dtype=np.int64)
    slots: list[Slot] = []
    leftovers: list[Region] = []
    notes: list[str] = []
    for region in regions:
        values = region.values.astype(np.float64)
        index = values - INDEX_BASE
        if values.size and np.all(index == np.round(index)) and index.min() >= 0 and index.max() < n_values:
            index = index.astype(np.int64)
            if np.unique(index).size != index.size:
                raise LayoutError(f"a region in {region.file} holds the same weight twice")
            if np.any(owner[index] >= 0):
                notes.append(f"weights stored twice (second copy in {region.file} at {region.offset})")
            owner[index] = len(slots)
            slots.append(Slot(region.file, region.offset, "<f4", index))
        elif values.size >= 2 and np.all(np.isfinite(values)):
            leftovers.append(region)
    for region in leftovers:
        fits = []
        for start, stop in ranges:
            if stop - start == region.values.size and np.all(owner[start:stop] < 0):
                fit = _affine_fit(region.values, start)
                if fit is not None:
                    fits.append(fit)
        if len(fits) == 1:
            scale, shift, index = fits[0]
            owner[index] = len(slots)
            slots.append(Slot(region.file, region.offset, "<f4", index, scale, shift))
            notes.append(f"folded region in {region.file} at {region.offset}: value = {scale:g} * w + {shift:g}")
    missing = int((owner < 0).sum())
    if missing:
        raise LayoutError(f"{missing} of {n_values} weights were not found in the converted file (constant-folded?)")
    return Layout(slots, n_values, notes)


def locate_like(layout: Layout, files: dict[str, bytes], flat: np.ndarray, dtype: str) -> Layout:
    """The same slots in another conversion of the same graph (e.g. fp16), found by the bytes they must hold.

    ``files`` were converted from a net whose flattened weights are ``flat``; each slot's expected
    encoding, in ``dtype`` or else kept as float32 (small tensors a converter leaves unconverted),
    must occur exactly once across the files.
    """
    slots: list[Slot] = []
    for slot in layout.slots:
        for candidate in dict.fromkeys((dtype, "<f4")):
            needle = Slot(slot.file, 0, candidate, slot.index, slot.scale, slot.shift).encode(flat)
            hits = [(name, data.find(needle)) for name, data in files.items() if needle in data]
            if len(hits) == 1 and files[hits[0][0]].count(needle) == 1:
                slots.append(Slot(hits[0][0], hits[0][1], candidate, slot.index, slot.scale, slot.shift))
                break
        else:
            raise LayoutError(f"a {slot.index.size}-value weight region was not found once in the {dtype} conversion")
    return Layout(slots, layout.n_values, layout.notes)


def scan_exact(file: str, data: bytes, n_values: int, min_run: int = 2) -> list[Region]:
    """Runs of consecutive float32 template values anywhere in ``data`` (any 4-byte alignment)."""
    regions: list[Region] = []
    for align in range(4):
        usable = (len(data) - align) // 4
        if usable <= 0:
            continue
        with np.errstate(all="ignore"):  # arbitrary bytes read as floats include NaN patterns
            values = np.frombuffer(data, dtype="<f4", count=usable, offset=align).astype(np.float64)
            index = values - INDEX_BASE
            hit = (index >= 0) & (index < n_values) & (index == np.floor(index))
        if not hit.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], hit.astype(np.int8), [0]])))
        for begin, end in zip(edges[::2], edges[1::2]):
            if end - begin >= min_run:
                regions.append(Region(file, align + 4 * int(begin), np.frombuffer(data, "<f4", int(end - begin), align + 4 * int(begin))))
    return regions
