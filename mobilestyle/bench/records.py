"""What a bench run produces: one record per timed thing, plus the run's environment (documented in docs/bench.md)."""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy
import torch

from mobilestyle import __version__
from mobilestyle.bench.timing import Timing
from mobilestyle.export.graph import GRAPH_VERSION


@dataclass
class BenchRecord:
    """One runtime x model x size x threads x precision (``kind`` "inference"), or one style-side /
    baseline step (``kind`` "style" or "baseline"). Times in milliseconds."""

    kind: str  # "inference" | "style" | "baseline"
    model: str  # "ours-b8", "magenta-transfer-int8", "meta-forward", "export-path", "johnson", ...
    runtime: str  # "torch", "torch-compile", "onnxruntime", "litert", "torch+export"
    device: str  # "cpu" | "cuda"
    precision: str  # "fp32" | "fp16" | "int8" | "mixed"
    height: int
    width: int
    threads: int
    median_ms: float
    p90_ms: float
    min_ms: float
    repeats: int
    images_per_s: float
    gmacs: float | None = None  # multiply-accumulates of one forward pass (counted, convs only), 1e9
    gflops: float | None = None  # 2 * gmacs / median latency
    best_gflops: float | None = None  # 2 * gmacs / min latency (what the hardware gives when the core is free)
    peak_gflops: float | None = None  # sgemm peak at the same thread count: best run, alone or in the same loop
    pct_of_peak: float | None = None  # 100 * gflops / peak_gflops
    model_bytes: int | None = None  # size of the file timed (None for PyTorch modules)
    weights: str = ""  # where the weights came from ("random", "checkpoint meta8 + style la_muse", "magenta")
    note: str = ""

    @classmethod
    def from_timing(cls, timing: Timing, **fields: Any) -> BenchRecord:
        record = cls(
            median_ms=round(timing.median_ms, 3),
            p90_ms=round(timing.p90_ms, 3),
            min_ms=round(timing.min_ms, 3),
            repeats=timing.repeats,
            images_per_s=round(timing.images_per_s, 2),
            **fields,
        )
        record.set_throughput(record.gmacs, record.peak_gflops)
        return record

    def set_throughput(self, gmacs: float | None, peak_gflops: float | None) -> None:
        self.gmacs = gmacs
        self.peak_gflops = None if peak_gflops is None else round(peak_gflops, 1)
        if gmacs is not None and self.median_ms > 0:
            self.gflops = round(2.0 * gmacs / (self.median_ms / 1000.0), 2)
            self.best_gflops = round(2.0 * gmacs / (self.min_ms / 1000.0), 2) if self.min_ms > 0 else None
            if peak_gflops:
                self.pct_of_peak = round(100.0 * self.gflops / peak_gflops, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """ours / reference median latency, both measured interleaved in the same timing loop."""

    ours: str  # "<runtime> <precision> <model>"
    reference: str
    height: int
    width: int
    threads: int
    ratio: float  # ours median / reference median: < 1 means ours is faster
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchResult:
    meta: dict[str, Any]
    records: list[BenchRecord] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "what: why" for each runtime / step that could not run

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "records": [r.to_dict() for r in self.records],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "skipped": self.skipped,
        }


def environment() -> dict[str, Any]:
    """Machine, library versions and date of a run."""
    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    for module, name in (
        ("onnxruntime", "onnxruntime"),
        ("ai_edge_litert", "ai-edge-litert"),
        ("litert_torch", "litert-torch"),
        ("onnx", "onnx"),
    ):
        try:
            versions[name] = __import__(module).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    versions["mobilestyle"] = __version__
    versions["export_graph"] = GRAPH_VERSION
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _cpu_name(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
