"""CoreML: mlprogram (iOS 16+) with RGB ImageType in and out (0..255, scale 1, no bias), flexible
sizes (RangeDim), fp16 by default. Predictions need macOS; on Linux the package's spec is checked."""

from __future__ import annotations

import logging
import struct
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export.layout import Region, scan_exact
from mobilestyle.export.metadata import METADATA_KEY, PLACEHOLDER
from mobilestyle.export.model_format import INPUT_NAME, MAX_RUN_SIDE, MIN_SIDE, OUTPUT_NAME, ModelFormat
from mobilestyle.export.verify import Parity, TorchReference
from mobilestyle.runners import Runner

SPEC_FILE = "Data/com.apple.CoreML/model.mlmodel"
WEIGHT_FILE = "Data/com.apple.CoreML/weights/weight.bin"
BLOB_SENTINEL = 0xDEADBEEF
BLOB_FLOAT16, BLOB_FLOAT32 = 1, 2


def _coremltools():
    try:
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        import coremltools as ct
    except ImportError:
        raise MissingBackendError("coremltools", "coreml") from None
    return ct


def convert(graph: nn.Module, default_size: int, precision: str) -> dict[str, bytes]:
    """A fresh conversion; returns the package's files by relative path."""
    ct = _coremltools()
    example = torch.rand(1, 3, default_size, default_size) * 255
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph.eval(), example, check_trace=False)
        side = ct.RangeDim(lower_bound=MIN_SIDE, upper_bound=MAX_RUN_SIDE, default=default_size)
        model = ct.convert(
            traced,
            inputs=[
                ct.ImageType(name=INPUT_NAME, shape=(1, 3, side, side), color_layout=ct.colorlayout.RGB, scale=1.0, bias=[0.0, 0.0, 0.0])
            ],
            outputs=[ct.ImageType(name=OUTPUT_NAME, color_layout=ct.colorlayout.RGB)],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS16,
            skip_model_load=True,
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
        )
    model.user_defined_metadata[METADATA_KEY] = PLACEHOLDER
    model.short_description = "mobilestyle style-transfer net: RGB image in, stylized RGB image out (0..255)"
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "model.mlpackage"
        model.save(str(package))
        return {str(p.relative_to(package)): p.read_bytes() for p in sorted(package.rglob("*")) if p.is_file()}


def blobs(weight_file: bytes) -> list[tuple[int, int, int]]:
    """(dtype code, data offset, byte size) of each blob in an mlprogram weight.bin."""
    out = []
    position = 64
    while position + 24 <= len(weight_file):
        sentinel, dtype, size, offset = struct.unpack_from("<IIQQ", weight_file, position)
        if sentinel != BLOB_SENTINEL:
            raise MobilestyleError("internal: unexpected CoreML weight.bin layout")
        out.append((dtype, offset, size))
        position = (offset + size + 63) // 64 * 64
    return out


def float_regions(files: dict[str, bytes], n_values: int) -> list[Region]:
    """fp32 blobs of weight.bin plus small constants stored inline in the program (found by value)."""
    regions = []
    weights = files.get(WEIGHT_FILE, b"")
    for dtype, offset, size in blobs(weights):
        if dtype == BLOB_FLOAT32:
            regions.append(Region(WEIGHT_FILE, offset, np.frombuffer(weights, "<f4", size // 4, offset)))
    regions += scan_exact(SPEC_FILE, files[SPEC_FILE], n_values)
    return regions


def read_metadata_text(package: Path) -> str | None:
    _coremltools()
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    try:
        spec.ParseFromString((package / SPEC_FILE).read_bytes())
    except Exception as exc:  # OSError or a protobuf decode error
        raise MobilestyleError(f"{package}: not a readable CoreML package ({type(exc).__name__})") from None
    return spec.description.metadata.userDefined.get(METADATA_KEY)


def write_package(files: dict[str, bytes], target: Path) -> None:
    target.mkdir(parents=True)
    for name, data in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def check_spec(package: Path, precision: str) -> str:
    """Check the saved package's spec: mlprogram, RGB image in/out, flexible sizes, weight precision."""
    _coremltools()
    from coremltools.proto import FeatureTypes_pb2, Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString((package / SPEC_FILE).read_bytes())
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append("not an mlprogram")
    inputs, outputs = spec.description.input, spec.description.output
    if [f.name for f in inputs] != [INPUT_NAME] or [f.name for f in outputs] != [OUTPUT_NAME]:
        problems.append(f"inputs/outputs are {[f.name for f in inputs]}/{[f.name for f in outputs]}")
    for feature in (*inputs, *outputs):
        kind = feature.type.WhichOneof("Type")
        if kind != "imageType" or feature.type.imageType.colorSpace != FeatureTypes_pb2.ImageFeatureType.RGB:
            problems.append(f"{feature.name} is not an RGB image")
    if inputs and inputs[0].type.imageType.WhichOneof("SizeFlexibility") != "imageSizeRange":
        problems.append("input size is not flexible")
    dtypes = {dtype for dtype, _, _ in blobs((package / WEIGHT_FILE).read_bytes())}
    expected = BLOB_FLOAT16 if precision == "fp16" else BLOB_FLOAT32
    if dtypes != {expected}:
        problems.append(f"weight blobs have dtype codes {sorted(dtypes)}, expected {expected} for {precision}")
    if problems:
        raise MobilestyleError(f"{package.name}: CoreML spec check failed: {'; '.join(problems)}")
    size_range = inputs[0].type.imageType.imageSizeRange
    return (
        f"coreml spec ok: mlprogram, RGB image {INPUT_NAME} -> {OUTPUT_NAME}, sides "
        f"{size_range.heightRange.lowerBound}..{size_range.heightRange.upperBound}, {precision} weights (predictions need macOS)"
    )


class CoremlFormat(ModelFormat):
    name = "coreml"
    suffix = ".mlpackage"
    other_suffixes = (".mlmodel",)
    layout = "image"
    backend_packages = (("coremltools", "coremltools"),)
    converter_packages = ("coremltools",)
    runs_here = False

    def file_precision(self, precision: str) -> str:
        return "fp32" if precision == "fp32" else "fp16"  # fp16 unless fp32 is asked (no int8 program)

    def template_options(self, sizes: Sequence[int], precision: str) -> dict:
        return {"default_size": sizes[0], "precision": precision}

    def convert(self, graph: nn.Module, sizes: Sequence[int], precision: str) -> dict[str, bytes]:
        return convert(graph, sizes[0], precision)

    def float_regions(self, files: dict[str, bytes], n_values: int) -> list[Region]:
        return float_regions(files, n_values)

    def write(self, files: dict[str, bytes], target: Path) -> None:
        write_package(files, target)

    def verify(self, path: Path, reference: TorchReference, sizes: Sequence[int], precision: str, what: str) -> tuple[str, Parity | None]:
        """Predictions need macOS: check the package's spec instead."""
        return check_spec(path, self.file_precision(precision)), None

    def open_runner(self, path: Path | None, threads: int | None = None, quiet: bool = False, content: bytes | None = None) -> Runner:
        raise MobilestyleError(f"{path}: CoreML predictions need macOS; use the .onnx or .tflite export here")

    def read_metadata_text(self, path: Path) -> str | None:
        return read_metadata_text(path)


FORMAT = CoremlFormat()
