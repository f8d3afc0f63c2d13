"""The bench run behind `mobilestyle bench`: export the net once, then time every runtime interleaved.

For each thread count and size, every candidate (PyTorch, onnxruntime, LiteRT fp32/fp16/int8, and the
Magenta peer at its native size) runs round-robin in one loop, so machine noise hits all of them alike
and ratios between them are meaningful even on a shared machine. See docs/bench.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from mobilestyle.atomic import scratch_dir
from mobilestyle.baselines.magenta import find_magenta_dir
from mobilestyle.bench.alternatives import time_baselines
from mobilestyle.bench.core import (
    CUDA_RUNTIMES,
    DEFAULT_RUNTIMES,
    MAGENTA_SIDE,
    MAGENTA_TRANSFER,
    RUNTIMES,
    BenchOptions,
    Candidate,
    Subject,
    skip,
    time_group,
)
from mobilestyle.bench.invokes import Invoke, onnx_invoke, tflite_invoke, torch_invoke
from mobilestyle.bench.records import BenchRecord, BenchResult, Comparison, environment
from mobilestyle.bench.style import style_side
from mobilestyle.bench.timing import sgemm_peak_gflops
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMATS, export, read_metadata
from mobilestyle.export.model_format import check_sides, signature_name
from mobilestyle.export.registry import format_of
from mobilestyle.export.tflite_format import tflite_interpreter
from mobilestyle.images import load_image
from mobilestyle.meta import MetaNetwork
from mobilestyle.model_files import load_model
from mobilestyle.style_encoder import StyleEncoder, emit_style_net
from mobilestyle.transformer import NetConfig, TransformNet, macs


def check_options(options: BenchOptions) -> None:
    if options.device not in ("cpu", "cuda"):
        raise MobilestyleError(f"unknown --device {options.device!r}: use cpu or cuda")
    if options.device == "cuda" and not torch.cuda.is_available():
        raise MobilestyleError("--device cuda: no CUDA device is visible to PyTorch here (torch.cuda.is_available() is False)")
    unknown = [r for r in options.runtimes if r not in RUNTIMES]
    if unknown:
        raise MobilestyleError(f"unknown runtime {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}")
    if options.repeats < 1 or options.warmup < 0:
        raise MobilestyleError("--repeats must be at least 1 and --warmup at least 0")
    check_sides(options.sizes, "sizes")
    if not options.threads or any(t < 1 for t in options.threads):
        raise MobilestyleError("--threads must be positive integers")
    if options.model_file is not None and not Path(options.model_file).is_file():
        raise MobilestyleError(f"--model {options.model_file}: no such file")


def run_bench(options: BenchOptions, log: Callable[[str], None] = lambda _: None) -> BenchResult:
    """Run the whole bench; user-facing problems raise MobilestyleError, unavailable pieces land in ``skipped``."""
    check_options(options)
    runtimes = [r for r in options.runtimes if options.device == "cpu" or r in CUDA_RUNTIMES]
    result = BenchResult(meta={**environment(), "options": _options_dict(options)})
    result.skipped += [f"{r}: CPU-only runtime, not run with --device cuda" for r in options.runtimes if r not in runtimes]
    with scratch_dir("mobilestyle-bench") as work:
        subject = _prepare_subject(options, runtimes, Path(work), result, log)
        result.meta["weights"] = subject.weights
        peers = _magenta_folder(options, result) if "magenta" in runtimes else None
        for threads in options.threads:
            peak = _peak(options.device, threads)
            result.meta.setdefault("peak_gflops", {})[str(threads)] = round(peak, 1)
            log(f"sgemm peak at {threads} thread(s), best of 15 alone: {peak:.0f} GFLOP/s")
            peer_size = min(options.sizes, key=lambda s: abs(s - MAGENTA_SIDE))
            for size in options.sizes:
                candidates = _inference_candidates(options, runtimes, subject, size, threads, result)
                if peers is not None and size == peer_size:
                    candidates.update(_magenta_candidates(peers, threads))
                time_group(candidates, options, threads, peak, result, f"{size}x{size}, {threads} thread(s)")
            if options.style_side and options.model_file is None and options.device == "cpu":
                style_side(options, subject, peers, threads, peak, result, log)
        if options.baselines and options.model_file is None:
            time_baselines(options, subject, result, log)
    result.comparisons = compare(result.records)
    return result


# --------------------------------------------------------------------------------------------- subject
def _prepare_subject(options: BenchOptions, runtimes: list[str], work: Path, result: BenchResult, log: Callable[[str], None]) -> Subject:
    if options.model_file is not None:
        return _file_subject(Path(options.model_file))
    subject = _net_subject(options, log)
    wanted = [r for r in runtimes if r == "onnxruntime" or r.startswith("litert-")]
    if wanted:
        _export(subject, wanted, options, work, result, log)
    return subject


def _net_subject(options: BenchOptions, log: Callable[[str], None]) -> Subject:
    try:
        loaded = load_model(options.checkpoint, expect="MetaNetwork")
    except MobilestyleError:
        if options.checkpoint is not None:
            raise
        loaded = None
    if loaded is None:
        config = NetConfig(base=options.base, padding=options.padding)  # type: ignore[arg-type]
        torch.manual_seed(0)
        log("no trained model available: timing random weights")
        return Subject(
            TransformNet(config).eval(), f"random ({config.base}-base, {config.padding} padding)", meta_model=MetaNetwork(config).eval()
        )
    if options.style is None:
        torch.manual_seed(0)
        return Subject(
            TransformNet(loaded.config).eval(),
            f"random (checkpoint {loaded.path.name} architecture; no --style given)",
            meta_model=loaded.model,
            style_size=loaded.style_size,
            checkpoint=loaded.path,
        )
    assert isinstance(loaded.model, MetaNetwork)
    net = emit_style_net(loaded.model, StyleEncoder.load(options.vgg_weights), load_image(options.style), loaded.style_size)
    return Subject(
        net,
        f"checkpoint {loaded.path.name} + style {Path(options.style).name}",
        meta_model=loaded.model,
        style_size=loaded.style_size,
        checkpoint=loaded.path,
    )


def _file_subject(path: Path) -> Subject:
    fmt = format_of(path)
    if fmt is None or not fmt.runs_here:
        suffixes = " or ".join(f.suffix for f in FORMATS.values() if f.runs_here)
        raise MobilestyleError(f"--model {path}: bench times {suffixes} files (CoreML predictions need macOS)")
    precision = "unknown"  # a foreign file without our metadata is still timed
    with contextlib.suppress(Exception):  # any unreadable metadata just leaves the precision unknown
        precision = read_metadata(path).get("precision", precision)
    key = _file_key(fmt.name, precision)
    return Subject(None, f"file {path.name}", files={key: path}, file_bytes={key: path.stat().st_size})


def _export(
    subject: Subject, runtimes: list[str], options: BenchOptions, work: Path, result: BenchResult, log: Callable[[str], None]
) -> None:
    """Export the net through the project's exporter (mobilestyle.export.export), one call per precision."""
    assert subject.net is not None
    plan: dict[str, list[str]] = {}
    if "onnxruntime" in runtimes:
        plan.setdefault("fp32", []).append("onnx")
    for runtime in runtimes:
        if runtime.startswith("litert-"):
            plan.setdefault(runtime.removeprefix("litert-"), []).append("tflite")
    for precision, formats in tqdm(list(plan.items()), desc="export", unit="precision", leave=False):
        log(f"exporting {'+'.join(formats)} {precision}")
        try:
            records = export(
                subject.net,
                name=f"bench-{precision}",
                formats=formats,
                sizes=list(options.sizes),
                precision=precision,
                out_dir=work / precision,
            )
        except MobilestyleError as exc:
            result.skipped.append(f"{'+'.join(formats)} {precision}: export failed ({exc})")
            continue
        for record in records:
            key = _file_key(record.format, precision)
            subject.files[key] = Path(record.path)
            subject.file_bytes[key] = record.bytes


def _file_key(fmt: str, precision: str) -> str:
    """How Subject.files names a file: "onnx" (always fp32), else "<format>-<precision>" ("tflite-int8")."""
    return "onnx" if fmt == "onnx" else f"{fmt}-{precision}"


def _magenta_folder(options: BenchOptions, result: BenchResult) -> Path | None:
    try:
        return find_magenta_dir(options.peers)
    except MobilestyleError as exc:
        result.skipped.append(f"magenta: {exc}")
        return None


# -------------------------------------------------------------------------------------------- timing
def _peak(device: str, threads: int) -> float:
    if device == "cuda":
        return _cuda_sgemm_peak()
    return sgemm_peak_gflops(threads)


def _cuda_sgemm_peak(size: int = 4096, repeats: int = 10) -> float:
    a = torch.randn(size, size, device="cuda")
    b = torch.randn(size, size, device="cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2.0 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def _inference_candidates(
    options: BenchOptions, runtimes: list[str], subject: Subject, size: int, threads: int, result: BenchResult
) -> dict[str, Candidate]:
    common = {"kind": "inference", "device": options.device, "height": size, "width": size, "threads": threads, "weights": subject.weights}
    gmacs = _gmacs(subject, size)
    model = f"ours-b{subject.net.config.base}" if subject.net is not None else "file"
    candidates: dict[str, Candidate] = {}

    def add(name: str, build: Callable[[], Invoke], **fields: Any) -> None:
        try:
            candidates[name] = Candidate(build(), {**common, "model": model, "gmacs": gmacs, **fields})
            if (fields.get("height"), fields.get("width")) not in ((None, None), (size, size)):
                candidates[name].fields["gmacs"] = None  # counted for size x size only
        except MobilestyleError as exc:
            skip(result, f"{name} {size}x{size}/{threads}t: {exc}")
        except Exception as exc:  # a backend that cannot run here is reported, not fatal
            skip(result, f"{name} {size}x{size}/{threads}t: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")

    if subject.net is not None:
        for runtime in ("torch", "torch-compile"):
            if runtime in runtimes:
                net, compiled = subject.net, runtime == "torch-compile"
                add(
                    runtime,
                    partial(_warm_torch, net, (size, size), threads, options.device, compiled),
                    runtime=runtime,
                    precision="fp32",
                    note="eager TransformNet" if runtime == "torch" else "torch.compile(TransformNet)",
                )
    if "onnx" in subject.files and (subject.net is None or "onnxruntime" in runtimes):
        add(
            "onnxruntime",
            lambda: onnx_invoke(subject.files["onnx"], (size, size), threads, options.device),
            runtime="onnxruntime",
            precision="fp32",
            model_bytes=subject.file_bytes["onnx"],
        )
    for key, path in subject.files.items():
        if not key.startswith("tflite-") or (subject.net is not None and f"litert-{key.removeprefix('tflite-')}" not in runtimes):
            continue
        signature, native = _tflite_entry(path, size)
        if native is not None and size != options.sizes[0]:
            continue  # a single fixed-size graph is timed once, at its own size
        extra = {"height": native[0], "width": native[1]} if native else {}
        add(
            f"litert-{key.removeprefix('tflite-')}",
            partial(tflite_invoke, path, threads, signature),
            runtime="litert",
            precision=key.removeprefix("tflite-"),
            model_bytes=subject.file_bytes[key],
            note="XNNPACK",
            **extra,
        )
    return candidates


def _tflite_entry(path: Path, size: int) -> tuple[str | None, tuple[int, int] | None]:
    """(signature to run for size x size, None) for a multi-size file; (None, its own HxW) for a single fixed-size graph."""
    interpreter = tflite_interpreter(path, 1)
    signatures = interpreter.get_signature_list()
    wanted = signature_name(size, size)
    if wanted in signatures:
        return wanted, None
    if any(name.startswith("size_") for name in signatures):
        raise MobilestyleError(f"{path.name} has no {wanted} signature (it has {', '.join(sorted(signatures))})")
    shape = interpreter.get_input_details()[0]["shape"]
    return None, (int(shape[1]), int(shape[2]))


def _warm_torch(net: TransformNet, size: tuple[int, int], threads: int, device: str, compiled: bool) -> Invoke:
    """A PyTorch call, run once while building (torch.compile compiles here, so failures surface as a skip, not mid-timing)."""
    invoke = torch_invoke(net, size, threads, device, compiled)
    invoke()
    return invoke


def _gmacs(subject: Subject, size: int) -> float | None:
    if subject.net is None:
        return None
    return round(macs(subject.net.config, size, size) / 1e9, 4)


def _magenta_candidates(folder: Path, threads: int) -> dict[str, Candidate]:
    candidates = {}
    for precision, name in MAGENTA_TRANSFER.items():
        path = folder / name
        if path.is_file():
            candidates[f"magenta-{precision}"] = Candidate(
                tflite_invoke(path, threads),
                {
                    "kind": "inference",
                    "model": f"magenta-transfer-{precision}",
                    "runtime": "litert",
                    "device": "cpu",
                    "precision": precision,
                    "height": MAGENTA_SIDE,
                    "width": MAGENTA_SIDE,
                    "threads": threads,
                    "model_bytes": path.stat().st_size,
                    "weights": "magenta",
                    "note": "style_transfer at its native 384x384 (bottleneck input random)",
                },
            )
    return candidates


# --------------------------------------------------------------------------------------- comparisons
def _label(record: BenchRecord) -> str:
    return f"{record.runtime} {record.precision} {record.model}"


def compare(records: Sequence[BenchRecord]) -> list[Comparison]:
    """Ratios inside each interleaved group: LiteRT vs onnxruntime, ours vs the Magenta peer, meta forward vs style predict."""
    comparisons = []
    groups: dict[tuple, list[BenchRecord]] = {}
    for record in records:
        groups.setdefault((record.kind, record.threads, record.device), []).append(record)
    for (kind, threads, _), group in groups.items():
        if kind == "inference":
            for ours in group:
                if ours.model.startswith("magenta") or ours.runtime not in ("litert", "onnxruntime"):
                    continue
                for ref in group:
                    same_size = (ref.height, ref.width) == (ours.height, ours.width)
                    if ref.model.startswith("magenta") and same_size:
                        comparisons.append(_ratio(ours, ref, threads, "ours / Magenta transfer, same size and threads"))
                    elif ours.runtime == "litert" and ref.runtime == "onnxruntime" and same_size:
                        comparisons.append(_ratio(ours, ref, threads, "LiteRT / onnxruntime"))
        elif kind == "style":
            ours_forward = [r for r in group if r.model == "meta-forward"]
            peers = [r for r in group if r.model.startswith("magenta-predict")]
            for ours in ours_forward:
                for ref in peers:
                    comparisons.append(_ratio(ours, ref, threads, "meta-network forward (PyTorch) / Magenta style predict (LiteRT)"))
    return comparisons


def _ratio(ours: BenchRecord, ref: BenchRecord, threads: int, note: str) -> Comparison:
    return Comparison(
        ours=_label(ours),
        reference=_label(ref),
        height=ours.height,
        width=ours.width,
        threads=threads,
        ratio=round(ours.median_ms / ref.median_ms, 3),
        note=note,
    )


def _options_dict(options: BenchOptions) -> dict[str, Any]:
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.__dict__.items()}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


__all__ = ["DEFAULT_RUNTIMES", "RUNTIMES", "BenchOptions", "BenchResult", "compare", "run_bench"]
