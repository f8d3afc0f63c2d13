"""Pieces every part of a bench run shares: options, what is timed, and the interleaved timing of one group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mobilestyle.bench.invokes import Invoke
from mobilestyle.bench.records import BenchRecord, BenchResult
from mobilestyle.bench.timing import sgemm_invoke, time_interleaved
from mobilestyle.transformer import TransformNet

RUNTIMES = ("torch", "torch-compile", "onnxruntime", "litert-fp32", "litert-fp16", "litert-int8", "magenta")
DEFAULT_RUNTIMES = ("torch", "onnxruntime", "litert-fp32", "litert-fp16", "litert-int8", "magenta")
CUDA_RUNTIMES = ("torch", "torch-compile", "onnxruntime")
MAGENTA_TRANSFER = {"int8": "style_transfer_quantized_384.tflite", "fp16": "style_transfer_f16_384.tflite"}
MAGENTA_PREDICT = "style_predict_quantized_256.tflite"
MAGENTA_SIDE = 384
JOHNSON_STEPS, JOHNSON_BATCH = 40_000, 4  # Johnson et al.: 40k iterations, batch 4, 256 px
GATYS_STEPS = 200


@dataclass
class BenchOptions:
    device: str = "cpu"
    sizes: Sequence[int] = (256, 384, 512)
    threads: Sequence[int] = (1, 2)
    runtimes: Sequence[str] = DEFAULT_RUNTIMES
    model_file: Path | None = None
    checkpoint: Path | None = None
    style: Path | None = None
    vgg_weights: Path | None = None
    peers: Path | None = None
    base: int = 8
    padding: str = "zero"
    repeats: int = 30
    warmup: int = 3
    style_side: bool = True
    baselines: bool = False
    baseline_steps: int = 3


@dataclass
class Candidate:
    """One thing to time in a group, with the fields its record gets."""

    invoke: Invoke
    fields: dict[str, Any]


@dataclass
class Subject:
    """The net under test, its exported files and where its weights came from."""

    net: TransformNet | None
    weights: str
    files: dict[str, Path] = field(default_factory=dict)  # "onnx" / "tflite-fp32" / ... -> file
    file_bytes: dict[str, int] = field(default_factory=dict)
    meta_model: Any = None
    style_size: int = 256
    checkpoint: Path | None = None


SETTLE_S = 0.05
"""Pause after each timed call with several threads: onnxruntime's idle workers spin for ~10-50 ms after a run, and
in a round-robin loop they took the cores from whichever candidate came next (LiteRT fp32 at 512², 2 threads: 37 ms
right after onnxruntime, 19 ms after a 50 ms pause)."""


def time_group(candidates: dict[str, Candidate], options: BenchOptions, threads: int, peak: float, result: BenchResult, label: str) -> None:
    """Time ``candidates`` round-robin; on CPU an sgemm runs in the same loop and gives the peak the records are measured against."""
    if not candidates:
        return
    invokes = {k: c.invoke for k, c in candidates.items()}
    if options.device == "cpu":
        invokes["sgemm"], sgemm_flops = sgemm_invoke(threads)
    with tqdm(total=options.repeats, desc=label, unit="round", leave=False) as bar:
        timings = time_interleaved(
            invokes, options.repeats, options.warmup, progress=lambda: bar.update(), settle_s=SETTLE_S if threads > 1 else 0.0
        )
    if "sgemm" in timings:  # the hardware limit: the best sgemm run, in the loop or alone before it
        sgemm = timings.pop("sgemm")
        in_loop = sgemm_flops / (sgemm.min_ms / 1000.0) / 1e9
        result.meta.setdefault("peak_gflops_in_loop", {}).setdefault(str(threads), []).append(
            {"group": label, "best_gflops": round(in_loop, 1), "median_gflops": round(sgemm_flops / (sgemm.median_ms / 1000.0) / 1e9, 1)}
        )
        peak = max(peak, in_loop)
    for name, timing in timings.items():
        fields = dict(candidates[name].fields)
        gmacs = fields.pop("gmacs", None)
        record = BenchRecord.from_timing(timing, **fields)
        record.set_throughput(gmacs, peak if gmacs is not None else None)
        result.records.append(record)


def skip(result: BenchResult, reason: str) -> None:
    if reason not in result.skipped:
        result.skipped.append(reason)
