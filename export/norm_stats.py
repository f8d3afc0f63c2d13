"""Norm-statistics files: whole photos in tiles on a phone or in a browser, with one set of instance-norm statistics.

An exported net normalises each picture with its own instance-norm statistics, so a photo run tile by tile through
a fixed-size file changes tone from tile to tile and is painted at the tile's scale (docs/controls.md: 41-59 grey
levels from the full frame). ``NAME.tiles.onnx`` / ``NAME.tiles.tflite`` hold the same net as graph.NormStatsGraph:

    inputs   image (the format's layout, 0..255), norm_stats (1 x K float32), use_given (1 x 1: 0 or 1)
    outputs  stylized (like image), own_norm_stats (1 x K: every norm's C means, then its C variances, in order)

Pass 1: the photo's centre crop at the file's side (the crop the demos already make) with ``use_given`` 0 gives
the statistics; pass 2: every tile with those statistics and ``use_given`` 1. ``stylize_whole_photo`` is that plan
in Python (tiles with 64 px of context, as the Java core's ``Tiler``), the reference the web demo (src/tiles.js) is
tested against. fp32 only.
TFLite files have one static signature ``size_<S>x<S>``; ONNX files take any H and W (multiples of 4).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from mobilestyle.atomic import atomic_path, ensure_writable_dir
from mobilestyle.controls.tiles import feather_for, margin_for, stylize_windows
from mobilestyle.errors import MobilestyleError
from mobilestyle.export.api import ArtifactRecord, _architecture, _size_on_disk
from mobilestyle.export.graph import GRAPH_VERSION, ExportGraph, NormStatsGraph
from mobilestyle.export.layout import flat_weights
from mobilestyle.export.metadata import build_metadata, patch_metadata
from mobilestyle.export.model_format import INPUT_NAME, MAX_RUN_SIDE, OUTPUT_NAME, check_sides, signature_name
from mobilestyle.export.registry import FORMATS
from mobilestyle.export.templates import DEFAULT_CACHE, TemplateCache, build_template, template_key
from mobilestyle.export.verify import MAX_ABS_FP32, OWN_ERROR_FACTOR, parity_image
from mobilestyle.images import center_crop_square
from mobilestyle.runners import channels_last, check_image, check_multiple_of_4, quiet_native_stderr
from mobilestyle.transformer import TransformNet

TILES_FORMATS = ("onnx", "tflite")
SUFFIX_TAG = ".tiles"  # NAME.tiles.onnx, NAME.tiles.tflite
STATS_INPUT, USE_INPUT, STATS_OUTPUT = "norm_stats", "use_given", "own_norm_stats"
ROLE = "tiles"
MIN_ONNX_SIDE = 16
# own statistics vs PyTorch, relative to each value's magnitude + 1. A proxy: what users see, a picture normalised with
# the file's own statistics, is held to the image limit. TFLite's reductions were seen 1.8e-4 off (one of 832 values).
STATS_RTOL = 1e-3


def tiles_file_name(name: str, fmt: str) -> str:
    return f"{name}{SUFFIX_TAG}{FORMATS[fmt].suffix}"


class _ChannelsLast(nn.Module):
    """NHWC image in and out around a NormStatsGraph, named outputs (the TFLite signature's)."""

    def __init__(self, graph: NormStatsGraph) -> None:
        super().__init__()
        self.inner = graph

    def forward(self, image: torch.Tensor, norm_stats: torch.Tensor, use_given: torch.Tensor) -> dict[str, torch.Tensor]:
        stylized, own = self.inner(image.permute(0, 3, 1, 2), norm_stats, use_given)
        return {OUTPUT_NAME: stylized.permute(0, 2, 3, 1), STATS_OUTPUT: own}


def _convert_onnx(graph: NormStatsGraph) -> dict[str, bytes]:
    from mobilestyle.export.onnx_format import program_bytes, quiet_exporter_log

    quiet_exporter_log()
    height = torch.export.Dim("height", min=MIN_ONNX_SIDE, max=MAX_RUN_SIDE)
    width = torch.export.Dim("width", min=MIN_ONNX_SIDE, max=MAX_RUN_SIDE)
    sample = (torch.rand(1, 3, 64, 64) * 255, torch.zeros(1, graph.length), torch.zeros(1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph.eval(),
            sample,
            dynamo=True,
            input_names=[INPUT_NAME, STATS_INPUT, USE_INPUT],
            output_names=[OUTPUT_NAME, STATS_OUTPUT],
            dynamic_shapes=({2: height, 3: width}, None, None),
            verbose=False,
        )
    return {"model.onnx": program_bytes(program)}


def _convert_tflite(graph: NormStatsGraph, side: int) -> dict[str, bytes]:
    from mobilestyle.export.tflite_format import _litert_torch, add_metadata_placeholder

    litert_torch = _litert_torch()
    sample = {INPUT_NAME: torch.zeros(1, side, side, 3), STATS_INPUT: torch.zeros(1, graph.length), USE_INPUT: torch.zeros(1, 1)}
    converter = litert_torch.signature(signature_name(side, side), _ChannelsLast(graph).eval(), sample_kwargs=sample)
    with warnings.catch_warnings(), quiet_native_stderr():
        warnings.simplefilter("ignore")
        model = converter.convert()
    return {"model.tflite": add_metadata_placeholder(model.model_content())}


def tiles_graph(net: TransformNet, fmt: str) -> NormStatsGraph:
    return NormStatsGraph(ExportGraph(net.eval(), static_shapes=FORMATS[fmt].static_shapes)).eval()


def _files(fmt: str, graph: NormStatsGraph, side: int, metadata: dict, cache: TemplateCache) -> dict[str, bytes]:
    """Converted once per (format, side, architecture) and weight-patched for each net, like every export."""
    format_object = FORMATS[fmt]
    if fmt == "onnx":
        convert: Any = _convert_onnx
        options: dict[str, Any] = {}
    else:
        convert, options = (lambda g: _convert_tflite(g, side)), {"side": side}
    key = template_key(f"{fmt}-norm-stats", graph, GRAPH_VERSION, options, format_object.backend_versions())
    template = cache.get(key, lambda: build_template(graph, convert, format_object.float_regions), f"{fmt} norm-statistics {side}px")
    files = convert(graph) if template is None else template.render(flat_weights(graph), None)
    return patch_metadata(files, metadata)


class NormStatsRunner:
    """A norm-statistics file in onnxruntime or the LiteRT interpreter: HxWx3 float32 (0..255) in and out."""

    def __init__(self, path: Path, threads: int | None = 1, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.format = fmt or ("onnx" if self.path.suffix == ".onnx" else "tflite")
        if self.format == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            try:
                self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise MobilestyleError(f"{self.path}: cannot load ONNX model ({str(exc).splitlines()[0][:160]})") from None
            self.length = int(self.session.get_inputs()[1].shape[1])
            self.side: int | None = None
        else:
            from mobilestyle.export.tflite_format import tflite_interpreter

            interpreter = tflite_interpreter(self.path, threads)
            (name,) = interpreter.get_signature_list()
            self.runner = interpreter.get_signature_runner(name)
            details = self.runner.get_input_details()
            self.length = int(details[STATS_INPUT]["shape"][1])
            self.side = int(details[INPUT_NAME]["shape"][1])

    def run_both(self, rgb: np.ndarray, stats: np.ndarray, use_given: float) -> tuple[np.ndarray, np.ndarray]:
        """(stylized HxWx3, own statistics 1 x K) for ``use_given`` 0 (own statistics) or 1 (``stats``)."""
        rgb = check_image(rgb)
        stats = np.asarray(stats, np.float32).reshape(1, self.length)
        use = np.full((1, 1), use_given, np.float32)
        if self.format == "onnx":
            check_multiple_of_4(rgb)
            image, own = self.session.run(
                [OUTPUT_NAME, STATS_OUTPUT], {INPUT_NAME: rgb.transpose(2, 0, 1)[None].copy(), STATS_INPUT: stats, USE_INPUT: use}
            )
            return np.ascontiguousarray(image[0].transpose(1, 2, 0), np.float32), np.asarray(own, np.float32)
        if rgb.shape[:2] != (self.side, self.side):
            raise MobilestyleError(f"this TFLite model runs {self.side}x{self.side} tiles, not {rgb.shape[0]}x{rgb.shape[1]}")
        out = self.runner(**{INPUT_NAME: rgb[None], STATS_INPUT: stats, USE_INPUT: use})
        return np.array(out[OUTPUT_NAME][0], np.float32), np.array(out[STATS_OUTPUT], np.float32)

    def statistics(self, rgb: np.ndarray) -> np.ndarray:
        """Pass 1: the picture's own statistics (1 x K)."""
        return self.run_both(rgb, np.zeros((1, self.length), np.float32), 0.0)[1]

    def run(self, rgb: np.ndarray, stats: np.ndarray) -> np.ndarray:
        """Pass 2: the picture normalised with the given statistics."""
        return self.run_both(rgb, stats, 1.0)[0]


def stylize_whole_photo(
    runner: NormStatsRunner, rgb: np.ndarray, side: int, margin: int | None = None, feather: int | None = None
) -> np.ndarray:
    """The demos' whole-photo plan with one set of statistics: pass 1 on the photo's centre crop at ``side``
    (mobilestyle.images.center_crop_square), pass 2 on ``side``² windows around cores of ``side - 2 margin`` px
    (controls.tiles.stylize_windows, the Java core's Tiler plan; margin and feather by default as the Java core's
    marginFor / featherFor: 64 and 32 px at 256). HxWx3 uint8-valued in, float HxWx3 out; with
    sides that are multiples of 4 this is the whole photo normalised with the crop's statistics."""
    crop = center_crop_square(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB"), side)
    stats = runner.statistics(np.asarray(crop, np.float32))
    margin = margin_for(side) if margin is None else margin
    feather = feather_for(side) if feather is None else feather
    return stylize_windows(lambda window: runner.run(window, stats), rgb, side, margin, feather)


@dataclass
class _Reference:
    graph: NormStatsGraph
    dtype: torch.dtype = torch.float32
    memory_format: torch.memory_format = torch.contiguous_format

    @torch.no_grad()
    def run(self, rgb: np.ndarray, stats: np.ndarray, use_given: float) -> tuple[np.ndarray, np.ndarray]:
        image = torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None].to(self.dtype)
        image = image.contiguous(memory_format=self.memory_format)
        given = torch.from_numpy(np.asarray(stats, np.float32)).to(self.dtype)
        out, own = self.graph(image, given, torch.full((1, 1), use_given, dtype=self.dtype))
        return out[0].permute(1, 2, 0).float().numpy(), own.float().numpy()


def _errors(runner: Any, reference: _Reference, pictures: tuple[np.ndarray, np.ndarray], length: int) -> tuple[float, float, bool]:
    """(worst image error, worst relative statistics error, all finite) of ``runner`` against ``reference``:
    the first picture's own statistics, then the second picture normalised with the reference's statistics."""
    zeros = np.zeros((1, length), np.float32)
    image_1, stats = runner.run_both(pictures[0], zeros, 0.0)
    expected_1, expected_stats = reference.run(pictures[0], zeros, 0.0)
    image_2, _ = runner.run_both(pictures[1], expected_stats, 1.0)
    expected_2, _ = reference.run(pictures[1], expected_stats, 1.0)
    # what a tiled photo does: the second picture normalised with the file's OWN statistics of the first
    image_3, _ = runner.run_both(pictures[1], stats, 1.0)
    images = (image_1, image_2, image_3)
    worst = max(float(np.abs(got - want).max()) for got, want in zip(images, (expected_1, expected_2, expected_2)))
    stats_error = float((np.abs(stats - expected_stats) / (np.abs(expected_stats) + 1.0)).max())
    return worst, stats_error, bool(all(np.isfinite(image).all() for image in images) and np.isfinite(stats).all())


def verify_tiles_file(path: Path, fmt: str, reference: NormStatsGraph, side: int) -> tuple[float, str]:
    """Both passes against PyTorch at ``side`` (statistics of one picture, then another picture with them); held to
    the fp32 limit of every export (verify.py: against float64, 1e-3 or OWN_ERROR_FACTOR x PyTorch fp32's own error) and
    STATS_RTOL. Returns the worst image error and what it was measured against."""
    pictures = (parity_image(side, side), parity_image(side, side, seed=11)[::-1].copy())
    runner = NormStatsRunner(path, fmt=fmt)
    worst, stats_error, finite = _errors(runner, _Reference(reference), pictures, reference.length)
    limit, stats_limit, against = MAX_ABS_FP32, STATS_RTOL, "PyTorch"
    if finite and (worst > MAX_ABS_FP32 or stats_error > STATS_RTOL):
        # PyTorch fp32 itself can be ~1e-3 off: compare with float64, each limit raised to OWN_ERROR_FACTOR times
        # PyTorch fp32's own error there, the worse of its two kernel layouts (verify.py's rule, for the statistics too)
        exact = _Reference(copy.deepcopy(reference).double(), torch.float64)
        other_layout = _Reference(channels_last(copy.deepcopy(reference)), memory_format=torch.channels_last)
        layouts = [_errors(_TorchRunner(layout), exact, pictures, reference.length) for layout in (_Reference(reference), other_layout)]
        own, own_stats = max(errors[0] for errors in layouts), max(errors[1] for errors in layouts)
        worst, stats_error, finite = _errors(runner, exact, pictures, reference.length)
        limit = max(MAX_ABS_FP32, OWN_ERROR_FACTOR * own)
        stats_limit = max(STATS_RTOL, OWN_ERROR_FACTOR * own_stats)
        against = f"PyTorch float64 (limit {limit:.2g}: {OWN_ERROR_FACTOR:g}x PyTorch fp32's own error)"
    if not finite:
        raise MobilestyleError(f"{path.name}: verification failed: the output holds NaN or Inf")
    if worst > limit or stats_error > stats_limit:
        raise MobilestyleError(
            f"{path.name}: verification failed: max abs error {worst:.3g} > {limit:.3g} (images) or {stats_error:.3g} > "
            f"{stats_limit:.3g} (statistics, relative)"
        )
    return worst, against


@dataclass
class _TorchRunner:
    """The PyTorch fp32 reference in the runner's interface (its own error against float64 sets the limit)."""

    reference: _Reference

    def run_both(self, rgb: np.ndarray, stats: np.ndarray, use_given: float) -> tuple[np.ndarray, np.ndarray]:
        return self.reference.run(rgb, stats, use_given)


def export_tiles(
    net: TransformNet,
    *,
    formats: Sequence[str],
    size: int,
    out_dir: Path,
    name: str,
    style_sha256: str | None = None,
    extra_metadata: dict | None = None,
    cache: TemplateCache | None = None,
) -> list[ArtifactRecord]:
    """Write and verify OUT_DIR/NAME.tiles<suffix> for each of ``formats`` (onnx, tflite): fp32, TFLite at ``size``²."""
    check_sides([size])
    unknown = [f for f in formats if f not in TILES_FORMATS]
    if unknown:
        raise MobilestyleError(f"norm-statistics files come as {', '.join(TILES_FORMATS)}, not {', '.join(unknown)}")
    if not isinstance(net, TransformNet):
        raise MobilestyleError("norm-statistics files need a plain style net (not a --preserve-colors wrapper)")
    out_dir = ensure_writable_dir(Path(out_dir))
    records = []
    for fmt in dict.fromkeys(formats):
        start = time.perf_counter()
        format_object = FORMATS[fmt]
        format_object.require_backend()
        graph = tiles_graph(net.eval(), fmt)
        sizes = format_object.metadata_sizes([size])
        metadata = build_metadata(
            format=fmt,
            style_name=name,
            style_sha256=style_sha256,
            sizes=sizes,
            layout=format_object.layout,
            precision="fp32",
            arch=_architecture(net),
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
            extra={**(extra_metadata or {}), "role": ROLE, "norm_stats_length": graph.length},
        )
        try:
            files = _files(fmt, graph, size, metadata, cache or DEFAULT_CACHE)
        except MobilestyleError:
            raise
        except Exception as exc:  # a converter failure: one line, naming the format
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise MobilestyleError(f"{fmt} norm-statistics conversion failed: {type(exc).__name__}: {first}") from exc
        target = out_dir / tiles_file_name(name, fmt)
        with atomic_path(target) as tmp:
            format_object.write(files, tmp)
            worst, against = verify_tiles_file(tmp, fmt, graph, size)
        records.append(
            ArtifactRecord(
                path=str(target),
                bytes=_size_on_disk(target),
                format=fmt,
                precision="fp32",
                sizes=sizes,
                max_abs_error=worst,
                psnr_db=None,
                verified=True,
                verification=f"{format_object.verify_label} vs {against}, own and given statistics at {size}x{size}",
                seconds=round(time.perf_counter() - start, 3),
                style_name=name,
                style_sha256=style_sha256,
            )
        )
    return records
