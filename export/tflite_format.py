"""TFLite: litert-torch conversion (one static signature per size, NHWC float32 I/O on 0..255),
fp16 / int8 as an ai-edge-quantizer post-step, float regions for weight patching."""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError
from mobilestyle.export.layout import Region
from mobilestyle.export.metadata import METADATA_KEY, PLACEHOLDER
from mobilestyle.runtimes import quiet_native_stderr, signature_name

NAME = "tflite"
SUFFIX = ".tflite"
INPUT_NAME = "image"
OUTPUT_NAME = "stylized"
TFLITE_FLOAT32 = 0


class ChannelsLast(nn.Module):
    """NHWC in and out around an NCHW graph (the converter folds the transposes into the model's ends)."""

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.net = graph

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {OUTPUT_NAME: self.net(image.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)}


def backend_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("litert-torch", "ai-edge-litert", "ai-edge-quantizer")}


def _litert_torch():
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    try:
        with quiet_native_stderr():  # absl / oneDNN start-up notes from the TensorFlow runtime it loads
            import litert_torch
    except ImportError:
        raise MissingBackendError("litert-torch", "tflite") from None
    return litert_torch


def convert(graph: nn.Module, sizes: list[int], precision: str = "fp32") -> dict[str, bytes]:
    """A fresh conversion, one signature per square size, with the metadata placeholder (fp16 / int8: quantized)."""
    litert_torch = _litert_torch()
    wrapped = ChannelsLast(graph).eval()
    converter = None
    for size in sizes:
        sample = {INPUT_NAME: torch.zeros(1, size, size, 3)}
        target = converter or litert_torch
        converter = target.signature(signature_name(size, size), wrapped, sample_kwargs=sample)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = q.quantize(enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)
