"""Timing primitives: warm-up, interleaved round-robin runs, robust statistics, the sgemm peak."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from mobilestyle.runners import torch_threads


@dataclass(frozen=True)
class Timing:
    """Latency statistics of one timed callable, in milliseconds."""

    median_ms: float
    p90_ms: float
    min_ms: float
    repeats: int

    @property
    def images_per_s(self) -> float:
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")

    @classmethod
    def from_samples(cls, samples_s: list[float]) -> Timing:
        ms = sorted(s * 1000.0 for s in samples_s)
        p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
        return cls(median_ms=statistics.median(ms), p90_ms=p90, min_ms=ms[0], repeats=len(ms))


def time_interleaved(
    candidates: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int = 3,
    progress: Callable[[], None] | None = None,
    settle_s: float = 0.0,
) -> dict[str, Timing]:
    """Time every candidate ``repeats`` times, round-robin, so machine noise hits them all alike.

    Each round runs the candidates once in turn (the order rotates every round); a warm-up of
    ``warmup`` calls per candidate comes first and is not counted. ``settle_s``: an untimed pause after
    each call, so that worker threads a runtime leaves spinning (onnxruntime's spin for ~10-50 ms) have
    gone idle before the next candidate starts.
    """
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            candidates[name]()
            samples[name].append(time.perf_counter() - start)
            if settle_s:
                time.sleep(settle_s)
        if progress is not None:
            progress()
    return {name: Timing.from_samples(values) for name, values in samples.items()}


def sgemm_peak_gflops(threads: int, size: int = 1024, repeats: int = 15) -> float:
    """Measured single-precision matmul throughput (GFLOP/s, 2 FLOP per multiply-add) at ``threads`` threads.

    The best of ``repeats`` runs of a size x size x size torch.matmul: a practical limit for a conv net here.
    """
    with torch_threads(threads):
        a = torch.randn(size, size)
        b = torch.randn(size, size)
        out = torch.empty(size, size)
        for _ in range(3):
            torch.matmul(a, b, out=out)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def sgemm_invoke(threads: int, size: int = 512) -> tuple[Callable[[], object], float]:
    """A size^3 float32 matmul at ``threads`` threads to time beside the models (same noise), and its FLOP count."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    out = torch.empty(size, size)

    def invoke() -> object:
        torch.set_num_threads(threads)
        return torch.matmul(a, b, out=out)

    return invoke, 2.0 * size**3
