"""The style side of a bench run: meta-network forward vs Magenta's style predictor, and the export path per new style."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mobilestyle.atomic import scratch_dir
from mobilestyle.bench.core import MAGENTA_PREDICT, BenchOptions, Candidate, Subject, skip, time_group
from mobilestyle.bench.invokes import tflite_invoke
from mobilestyle.bench.records import BenchRecord, BenchResult
from mobilestyle.bench.timing import time_interleaved
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMATS, export
from mobilestyle.images import load_image
from mobilestyle.style_encoder import StyleEncoder


def style_side(
    options: BenchOptions, subject: Subject, peers: Path | None, threads: int, peak: float, result: BenchResult, log: Callable[[str], None]
) -> None:
    """Meta-network forward (VGG encode + generate) and the whole export path per new style, vs Magenta's style predictor."""
    try:
        encoder = StyleEncoder.load(options.vgg_weights)
    except MobilestyleError as exc:
        skip(result, f"style side: {exc}")
        return
    style = _style_image(options)
    torch.set_num_threads(threads)
    meta = subject.meta_model
    common = {
        "kind": "style",
        "device": "cpu",
        "threads": threads,
        "height": subject.style_size,
        "width": subject.style_size,
        "weights": f"checkpoint {subject.checkpoint.name}" if subject.checkpoint else "random meta network",
    }

    @torch.inference_mode()
    def meta_forward() -> object:
        return meta.emit(encoder.statistics(style, subject.style_size))

    candidates = {
        "meta-forward": Candidate(
            meta_forward,
            {
                **common,
                "model": "meta-forward",
                "runtime": "torch",
                "precision": "fp32",
                "note": "VGG-16 encode + meta network + emit (PyTorch)",
            },
        )
    }
    if peers is not None and (peers / MAGENTA_PREDICT).is_file():
        candidates["magenta-predict"] = Candidate(
            tflite_invoke(peers / MAGENTA_PREDICT, threads),
            {
                **common,
                "model": "magenta-predict-int8",
                "runtime": "litert",
                "precision": "int8",
                "height": 256,
                "width": 256,
                "weights": "magenta",
                "model_bytes": (peers / MAGENTA_PREDICT).stat().st_size,
                "note": "style_predict (MobileNet) at 256x256",
            },
        )
    log(f"style side, {threads} thread(s)")
    time_group(candidates, options, threads, peak, result, f"style side, {threads} thread(s)")
    if threads == options.threads[0]:
        _export_path(options, subject, encoder, style, threads, result)


def _style_image(options: BenchOptions) -> Any:
    if options.style is not None:
        return load_image(options.style)
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8))


def _export_path(options: BenchOptions, subject: Subject, encoder: Any, style: Any, threads: int, result: BenchResult) -> None:
    """Style image -> verified ONNX + TFLite fp32 files: what a user waits for per new style (template cache warm)."""
    formats = [name for name, fmt in FORMATS.items() if fmt.runs_here]
    with scratch_dir("mobilestyle-bench-export") as out:

        def export_once() -> object:
            with torch.inference_mode():
                net = subject.meta_model.emit(encoder.statistics(style, subject.style_size))
            return export(net, name="style", formats=formats, sizes=list(options.sizes), precision="fp32", out_dir=Path(out))

        try:
            timing = time_interleaved({"export": export_once}, repeats=3, warmup=1)["export"]
        except MobilestyleError as exc:
            skip(result, f"export path: {exc}")
            return
    sizes = ",".join(str(s) for s in options.sizes)
    result.records.append(
        BenchRecord.from_timing(
            timing,
            kind="style",
            model="export-path",
            runtime="torch+export",
            device="cpu",
            precision="fp32",
            height=subject.style_size,
            width=subject.style_size,
            threads=threads,
            weights="random meta network" if subject.checkpoint is None else f"checkpoint {subject.checkpoint.name}",
            note=f"encode + generate + export({', '.join(formats)} fp32, sizes {sizes}) incl. verification; "
            "conversion template cached after the warm-up",
        )
    )
