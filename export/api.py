"""Public export API: a TransformNet (or a style image through the meta network) -> verified model files.

Every file is written under a temporary name, verified, then renamed: a failed verification raises
MobilestyleError and leaves no model file. Conversions go through the template cache (templates.py),
so a warm process patches weights into an already converted graph instead of converting again.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mobilestyle.atomic import atomic_path, ensure_writable_dir
from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export import FORMATS
from mobilestyle.export import graph as graph_module
from mobilestyle.export.layout import flat_weights
from mobilestyle.export.metadata import build_metadata, patch_metadata
from mobilestyle.export.rescale import normalize_norm_inputs
from mobilestyle.export.templates import DEFAULT_CACHE, Template, TemplateCache, build_template, template_key
from mobilestyle.export.verify import MAX_ABS_FP32, OWN_ERROR_FACTOR, check_fp16_guard, fp32_limit_vs_exact, parity
from mobilestyle.runtimes import OnnxRunner, TfliteRunner, torch_threads
from mobilestyle.transformer import TransformNet

PRECISIONS = ("fp32", "fp16", "int8")
SUFFIXES = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}
MIN_SIZE, MAX_SIZE = 64, 2048
VERIFY_THREADS = 1  # one-off passes (style encoding, verification): see runtimes.torch_threads
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ArtifactRecord:
    path: str
    bytes: int
    format: str
    precision: str
    sizes: list[list[int]] | str
    max_abs_error: float | None
    psnr_db: float | None
    verified: bool
    verification: str
    seconds: float
    style_name: str
    style_sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["psnr_db"] is not None and not np.isfinite(data["psnr_db"]):
            data["psnr_db"] = None if np.isnan(data["psnr_db"]) else 999.0
        return data


def file_precision(fmt: str, precision: str) -> str:
    """What a format stores for the requested precision: ONNX fp32; CoreML fp16 unless fp32 is asked."""
    if fmt == "onnx":
        return "fp32"
    if fmt == "coreml":
        return "fp32" if precision == "fp32" else "fp16"
    return precision


def check_request(formats: Sequence[str], sizes: Sequence[int], precision: str, name: str) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise MobilestyleError(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)} or all")
    if precision not in PRECISIONS:
        raise MobilestyleError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if not sizes:
        raise MobilestyleError("give at least one --size")
    for size in sizes:
        if size % 4 or not MIN_SIZE <= size <= MAX_SIZE:
            raise MobilestyleError(f"unsupported size {size}: sizes must be multiples of 4 from {MIN_SIZE} to {MAX_SIZE}")
    if not _SAFE_NAME.match(name):
        raise MobilestyleError(f"bad model name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")


_BACKEND_PACKAGES = {
    "onnx": [("onnx", "onnx"), ("onnxscript", "onnxscript"), ("onnxruntime", "onnxruntime")],
    "tflite": [("litert_torch", "litert-torch"), ("ai_edge_litert", "ai-edge-litert"), ("ai_edge_quantizer", "ai-edge-quantizer")],
    "coreml": [("coremltools", "coremltools")],
}


def require_backends(formats: Sequence[str]) -> None:
    """Fail before any work when a format's backend is not installed (without importing it)."""
    import importlib.util

    for fmt in formats:
        for module, package in _BACKEND_PACKAGES[fmt]:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ValueError, ImportError):
                found = False
            if not found:
                raise MissingBackendError(package, fmt)


class TorchReference:
    """The net in PyTorch, run once per test shape and shared by every format of one net.

    fp32 by default; ``exact()`` gives the float64 run, used before failing an fp32 file: PyTorch's own
    fp32 output is up to ~1e-3 off the exact function on 0..255 (float64 is slower, ~0.5 s at 256²).
    """

    format = "torch"
    path = None

    def __init__(self, net: nn.Module, dtype: torch.dtype = torch.float32) -> None:
        self.net = net if dtype == torch.float32 else copy.deepcopy(net).to(dtype)
        self.dtype = dtype
        self.outputs: dict[tuple, np.ndarray] = {}
        self._exact: TorchReference | None = None

    def run(self, rgb: np.ndarray) -> np.ndarray:
        key = (rgb.shape, hash(rgb.tobytes()))
        if key not in self.outputs:
            with torch_threads(VERIFY_THREADS), torch.no_grad():
                out = self.net.eval()(torch.from_numpy(rgb).to(self.dtype).permute(2, 0, 1).unsqueeze(0))
            self.outputs[key] = out[0].permute(1, 2, 0).numpy().astype(np.float32)
        return self.outputs[key]

    def exact(self) -> TorchReference:
        if self._exact is None:
            self._exact = self if self.dtype == torch.float64 else TorchReference(self.net, torch.float64)
        return self._exact


def _graph_version() -> int:
    return int(getattr(graph_module, "GRAPH_VERSION", 0))


def _backend(fmt: str):
    if fmt == "onnx":
        from mobilestyle.export import onnx_format as backend
    elif fmt == "tflite":
        from mobilestyle.export import tflite_format as backend
    else:
        from mobilestyle.export import coreml_format as backend
    return backend


def _template(fmt: str, graph: nn.Module, sizes: list[int], precision: str, cache: TemplateCache) -> Template | None:
    """The cached conversion for this request (int8 TFLite: the fp32 template, quantized per style)."""
    backend = _backend(fmt)
    stored = "fp32" if fmt == "tflite" and precision == "int8" else file_precision(fmt, precision)
    convert_fp32 = None
    if fmt == "onnx":
        options: dict[str, Any] = {}
        convert = backend.convert
    elif fmt == "tflite":
        options = {"sizes": sizes, "precision": stored}
        convert = partial(backend.convert, sizes=sizes, precision=stored)
        if stored == "fp16":
            convert_fp32 = partial(backend.convert, sizes=sizes, precision="fp32")
    else:
        options = {"default_size": sizes[0], "precision": stored}
        convert = partial(backend.convert, default_size=sizes[0], precision=stored)
        if stored == "fp16":
            convert_fp32 = partial(backend.convert, default_size=sizes[0], precision="fp32")
    key = template_key(fmt, graph, _graph_version(), options, backend.backend_versions())
    return cache.get(key, lambda: build_template(graph, convert, backend.float_regions, convert_fp32))


def _fresh(fmt: str, graph: nn.Module, sizes: list[int], precision: str) -> dict[str, bytes]:
    backend = _backend(fmt)
    if fmt == "onnx":
        return backend.convert(graph)
    if fmt == "tflite":
        return backend.convert(graph, sizes, precision)
    return backend.convert(graph, sizes[0], file_precision(fmt, precision))


def model_files(
    fmt: str, graph: nn.Module, sizes: list[int], precision: str, metadata: dict, *, cache: TemplateCache | None = None, fresh: bool = False,
) -> tuple[dict[str, bytes], str]:
    """The converted files of ``graph`` with metadata; returns (files, how: "patched template" | "fresh conversion")."""
    try:
        template = None if fresh else _template(fmt, graph, sizes, precision, cache or DEFAULT_CACHE)
        how = "patched template" if template is not None else "fresh conversion"
        if template is None:
            files = _fresh(fmt, graph, sizes, precision)
        else:
            files = template.render(flat_weights(graph), None)
            if fmt == "tflite" and precision == "int8":
                files = {"model.tflite": _backend(fmt).quantize(files["model.tflite"], precision)}
    except MobilestyleError:
        raise
    except Exception as exc:  # a converter failure: one line, naming the format
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise MobilestyleError(f"{fmt} conversion failed: {type(exc).__name__}: {first}") from exc
    return patch_metadata(files, metadata), how


def _metadata(fmt: str, net: TransformNet, name: str, sha: str | None, sizes: list[int], precision: str, extra: dict | None) -> dict:
    layout = {"onnx": "NCHW", "tflite": "NHWC", "coreml": "image"}[fmt]
    shapes: list[list[int]] | str = [[s, s] for s in sizes] if fmt == "tflite" else "dynamic"
    return build_metadata(format=fmt, style_name=name, style_sha256=sha, sizes=shapes, layout=layout, precision=file_precision(fmt, precision),
                          arch=net.config.to_dict(), input_name="image", output_name="stylized", extra=extra)


def _write_and_verify(fmt: str, files: dict[str, bytes], target: Path, reference: TorchReference, sizes: list[int], precision: str) -> tuple[str, Any]:
    """Write ``files`` to a temporary name, verify them there, rename; returns (verification, parity)."""
    stored = file_precision(fmt, precision)
    with atomic_path(target) as tmp:
        if fmt == "coreml":
            from mobilestyle.export.coreml_format import check_spec, write_package

            write_package(files, tmp)
            return check_spec(tmp, stored), None
        tmp.write_bytes(next(iter(files.values())))
        if fmt == "onnx":
            runner = OnnxRunner(tmp, threads=VERIFY_THREADS, spinning=False)
            side = sizes[0]
            shapes = [(side, side), (side // 2 // 4 * 4 or 64, side)]
            label = "onnxruntime vs PyTorch"
        else:
            runner = TfliteRunner(tmp, threads=VERIFY_THREADS)
            shapes = [(s, s) for s in sizes]
            label = "LiteRT interpreter (XNNPACK) vs PyTorch"
        result, limit = parity(runner, reference, shapes), MAX_ABS_FP32
        if stored == "fp32" and result.max_abs_error > MAX_ABS_FP32:
            result, limit = parity(runner, reference.exact(), shapes), fp32_limit_vs_exact(reference, reference.exact(), shapes)
            label = label.replace("PyTorch", "PyTorch float64")
            if limit > MAX_ABS_FP32:
                label += f" (limit {limit:.2g}: {OWN_ERROR_FACTOR:g}x PyTorch fp32's own error)"
        result.check(stored, target.name, limit)
        return f"{label} at {', '.join(f'{h}x{w}' for h, w in shapes)}", result


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def export_net(
    net: TransformNet, *, name: str, formats: Sequence[str], sizes: Sequence[int], precision: str, out_dir: Path,
    style_sha256: str | None = None, extra_metadata: dict | None = None, cache: TemplateCache | None = None, fresh: bool = False,
) -> list[ArtifactRecord]:
    """Write and verify one model file per format for ``net``; ``fresh`` bypasses the template cache."""
    from mobilestyle.export.graph import export_graph

    sizes = list(dict.fromkeys(int(s) for s in sizes))
    formats = list(dict.fromkeys(formats))
    check_request(formats, sizes, precision, name)
    require_backends(formats)
    out_dir = ensure_writable_dir(Path(out_dir))
    net = net.eval()
    reference = TorchReference(net)
    fp16_net = normalize_norm_inputs(net) if any(file_precision(f, precision) == "fp16" for f in formats) else None
    fp16_note = check_fp16_guard(fp16_net) if fp16_net is not None else ""
    graphs: dict[tuple[str, bool], nn.Module] = {}
    records = []
    for fmt in formats:
        start = time.perf_counter()
        stored = file_precision(fmt, precision)
        key = (stored, fmt == "tflite")  # TFLite files are traced at fixed sizes (static shapes)
        if key not in graphs:  # fp16 files get the norm-input-rescaled net (same function, no fp16 overflow)
            graphs[key] = export_graph(fp16_net if stored == "fp16" else net, static_shapes=key[1])
        metadata = _metadata(fmt, net, name, style_sha256, sizes, precision, extra_metadata)
        files, how = model_files(fmt, graphs[key], sizes, precision, metadata, cache=cache, fresh=fresh)
        target = out_dir / f"{name}{SUFFIXES[fmt]}"
        verification, result = _write_and_verify(fmt, files, target, reference, sizes, precision)
        records.append(ArtifactRecord(
            path=str(target), bytes=_size_on_disk(target), format=fmt, precision=file_precision(fmt, precision),
            sizes=metadata["sizes"], max_abs_error=None if result is None else result.max_abs_error,
            psnr_db=None if result is None else result.psnr_db, verified=True,
            verification=f"{verification} ({how}{'; ' + fp16_note if stored == 'fp16' else ''})",
            seconds=round(time.perf_counter() - start, 3), style_name=name, style_sha256=style_sha256,
        ))
    return records


class StyleExporter:
    """The meta network and VGG encoder, loaded once and reused for every style image."""

    def __init__(self, checkpoint: Path | None = None, vgg_weights: Path | None = None, cache: TemplateCache | None = None) -> None:
        from mobilestyle.models import StyleEncoder, load_model

        self.loaded = load_model(checkpoint, expect="MetaNetwork")
        self.encoder = StyleEncoder.load(vgg_weights)
        self.cache = cache

    def style_net(self, style_image: Path) -> TransformNet:
        from mobilestyle.images import load_image
        from mobilestyle.models import emit_style_net

        with torch_threads(VERIFY_THREADS):
            return emit_style_net(self.loaded.model, self.encoder, load_image(style_image), self.loaded.style_size)

    def export_style(
        self, style_image: Path, *, formats: Sequence[str], sizes: Sequence[int], precision: str, out_dir: Path, name: str | None = None,
        fresh: bool = False,
    ) -> list[ArtifactRecord]:
        from mobilestyle.atomic import sha256_file

        style_image = Path(style_image)
        name = name or style_image.stem
        check_request(formats, sizes, precision, name)
        net = self.style_net(style_image)
        extra = {"checkpoint": self.loaded.path.name, "style_size": self.loaded.style_size}
        return export_net(net, name=name, formats=formats, sizes=sizes, precision=precision, out_dir=out_dir,
                          style_sha256=sha256_file(style_image), extra_metadata=extra, cache=self.cache, fresh=fresh)
