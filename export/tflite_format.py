"""TFLite: litert-torch conversion (one static signature per size, NHWC float32 I/O on 0..255),
fp16 / int8 as an ai-edge-quantizer post-step, float regions for weight patching; run in the LiteRT interpreter."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export.layout import Region
from mobilestyle.export.metadata import METADATA_KEY, PLACEHOLDER
from mobilestyle.export.model_format import INPUT_NAME, OUTPUT_NAME, ModelFormat, signature_name, signature_size
from mobilestyle.runners import check_image, quiet_native_stderr

TFLITE_FLOAT32 = 0


class ChannelsLast(nn.Module):
    """NHWC in and out around an NCHW graph (the converter folds the transposes into the model's ends)."""

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.net = graph

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {OUTPUT_NAME: self.net(image.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)}


def _litert_torch():
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    try:
        with quiet_native_stderr():  # absl / oneDNN start-up notes from the TensorFlow runtime it loads
            import litert_torch
    except ImportError:
        raise MissingBackendError("litert-torch", "tflite") from None
    return litert_torch


def convert(graph: nn.Module, sizes: Sequence[int], precision: str = "fp32") -> dict[str, bytes]:
    """A fresh conversion, one signature per square size, with the metadata placeholder (fp16 / int8: quantized)."""
    litert_torch = _litert_torch()
    wrapped = ChannelsLast(graph).eval()
    converter = None
    for size in sizes:
        sample = {INPUT_NAME: torch.zeros(1, size, size, 3)}
        target = converter or litert_torch
        converter = target.signature(signature_name(size, size), wrapped, sample_kwargs=sample)
    if converter is None:
        raise MobilestyleError("internal: no TFLite signature to convert (no sizes)")
    with warnings.catch_warnings(), quiet_native_stderr():  # MOBILESTYLE_DEBUG=1 shows the converter's own output
        warnings.simplefilter("ignore")
        model = converter.convert()
    return {"model.tflite": quantize(add_metadata_placeholder(model.model_content()), precision)}


def add_metadata_placeholder(data: bytes) -> bytes:
    """Append a metadata entry (``mobilestyle`` -> a fixed-size buffer) to a TFLite flatbuffer."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(PLACEHOLDER.encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(data) + 8192)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_metadata_text(data: bytes, path: Path | None = None) -> str | None:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        raise MissingBackendError("ai-edge-litert", "tflite") from None
    try:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() and entry.Name().decode() == METADATA_KEY:
                buffer = model.Buffers(entry.Buffer())
                if buffer.Offset() > 1:  # stored after the flatbuffer (ai-edge-quantizer writes large models so)
                    return data[buffer.Offset() : buffer.Offset() + buffer.Size()].decode()
                return buffer.DataAsNumpy().tobytes().decode()
    except Exception as exc:  # flatbuffers raises plain errors on corrupt input
        raise MobilestyleError(f"{path or 'model'}: not a readable TFLite file ({type(exc).__name__})") from None
    return None


def float_regions(files: dict[str, bytes], n_values: int) -> list[Region]:
    """Every float32 constant buffer of the flatbuffer, with its byte offset in the file."""
    from ai_edge_litert import schema_py_generated as schema

    data = files["model.tflite"]
    model = schema.Model.GetRootAs(data, 0)
    float_buffers: set[int] = set()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            if tensor.Type() == TFLITE_FLOAT32 and tensor.Buffer() > 0:
                float_buffers.add(tensor.Buffer())
    regions = []
    for b in sorted(float_buffers):
        table = model.Buffers(b)._tab
        field = table.Offset(4)
        if not field:
            continue
        start, length = table.Vector(field), table.VectorLen(field)
        if length and length % 4 == 0:
            regions.append(Region("model.tflite", start, np.frombuffer(data, "<f4", length // 4, start)))
    return regions


def quantize(data: bytes, precision: str) -> bytes:
    """fp16 (weights cast, float compute) or int8 (dynamic range, per-channel) with float32 I/O."""
    if precision == "fp32":
        return data
    try:
        from ai_edge_quantizer import algorithm_manager, qtyping, quantizer
    except ImportError:
        raise MissingBackendError("ai-edge-quantizer", "tflite") from None
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    q = quantizer.Quantizer(bytearray(data))
    ops = qtyping.TFLOperationName.ALL_SUPPORTED
    if precision == "fp16":
        q.add_weight_only_config(regex=".*", operation_name=ops, num_bits=16, algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
    else:
        q.add_dynamic_config(regex=".*", operation_name=ops, num_bits=8)
    _quiet_quantizer_progress()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = q.quantize(enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


def _quiet_quantizer_progress() -> None:
    """ai-edge-quantizer does not pass enable_progress_bar on to its last stage, whose tqdm bar then shows for any
    model of over 100 tensors ("Applying Transformations to tensors"): its bars default to off here. A class swap,
    not a stderr redirect, so that the service's worker threads can quantize side by side."""
    from ai_edge_quantizer.utils import progress_utils

    original = progress_utils.ProgressBar
    if getattr(original, "quiet_by_default", False):
        return

    class QuietProgressBar(original):  # type: ignore[misc, valid-type]
        quiet_by_default = True

        def __init__(self, total_steps: int, description: str = "", disappear_on_finish: bool = False, enable: bool | None = None):
            super().__init__(total_steps, description, disappear_on_finish, enable=bool(enable))

    progress_utils.ProgressBar = QuietProgressBar


def tflite_interpreter(path: str | Path | None = None, threads: int | None = None, content: bytes | None = None) -> Any:
    """An ai-edge-litert Interpreter (XNNPACK is its default CPU delegate), tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise MissingBackendError("ai-edge-litert", "tflite") from None
    try:
        with quiet_native_stderr():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" from C++
            if content is not None:
                interpreter = Interpreter(model_content=content, num_threads=threads)
            else:
                interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise MobilestyleError(f"{path or 'model'}: cannot load TFLite model ({str(exc).splitlines()[0][:160]})") from None
    return interpreter


class TfliteRunner:
    """A .tflite file in the LiteRT interpreter: NHWC float32 0..255, one signature per static size."""

    format = "tflite"

    def __init__(self, path: Path | None, threads: int | None = None, content: bytes | None = None) -> None:
        self.path = path
        self.interpreter = tflite_interpreter(path, threads, content)
        self._runners: dict[tuple[int, int], Any] = {}
        signatures = self.interpreter.get_signature_list()
        self.signatures: dict[tuple[int, int], str] = {}
        for name in signatures:
            size = signature_size(name)
            if size is not None:
                self.signatures[size] = name
        if not self.signatures:  # a plain single-size file: read its input shape
            shape = self.interpreter.get_input_details()[0]["shape"]
            self.signatures[(int(shape[1]), int(shape[2]))] = next(iter(signatures), "")

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return sorted(self.signatures)

    def run(self, rgb: np.ndarray) -> np.ndarray:
        rgb = check_image(rgb)
        key = (rgb.shape[0], rgb.shape[1])
        if key not in self.signatures:
            supported = ", ".join(f"{h}x{w}" for h, w in self.sizes)
            raise MobilestyleError(f"this TFLite model runs {supported} images, not {key[0]}x{key[1]}")
        name = self.signatures[key]
        if not name:
            interpreter = self.interpreter
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], rgb[None])
            interpreter.invoke()
            return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0], dtype=np.float32)
        if key not in self._runners:
            self._runners[key] = self.interpreter.get_signature_runner(name)
        runner = self._runners[key]
        outputs = runner(**{next(iter(runner.get_input_details())): rgb[None]})
        return np.array(next(iter(outputs.values()))[0], dtype=np.float32)


class TfliteFormat(ModelFormat):
    name = "tflite"
    suffix = ".tflite"
    layout = "NHWC"
    backend_packages = (("litert_torch", "litert-torch"), ("ai_edge_litert", "ai-edge-litert"), ("ai_edge_quantizer", "ai-edge-quantizer"))
    converter_packages = ("litert-torch", "ai-edge-litert", "ai-edge-quantizer")
    static_shapes = True
    verify_label = "LiteRT interpreter (XNNPACK)"

    def template_precision(self, precision: str) -> str:
        return "fp32" if precision == "int8" else precision  # int8: the fp32 template, quantized per style

    def template_options(self, sizes: Sequence[int], precision: str) -> dict:
        return {"sizes": list(sizes), "precision": precision}

    def convert(self, graph: nn.Module, sizes: Sequence[int], precision: str) -> dict[str, bytes]:
        return convert(graph, sizes, precision)

    def float_regions(self, files: dict[str, bytes], n_values: int) -> list[Region]:
        return float_regions(files, n_values)

    def finish(self, files: dict[str, bytes], precision: str) -> dict[str, bytes]:
        return {"model.tflite": quantize(files["model.tflite"], precision)} if precision == "int8" else files

    def open_runner(self, path: Path | None, threads: int | None = None, quiet: bool = False, content: bytes | None = None) -> TfliteRunner:
        return TfliteRunner(path, threads, content)

    def read_metadata_text(self, path: Path) -> str | None:
        return read_metadata_text(path.read_bytes(), path)


FORMAT = TfliteFormat()
