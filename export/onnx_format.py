"""ONNX: torch.onnx (dynamo) export with dynamic height/width, NCHW float32 0..255 in and out."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError
from mobilestyle.export.layout import Region
from mobilestyle.export.metadata import METADATA_KEY, PLACEHOLDER
from mobilestyle.runtimes import ONNX_INPUT, ONNX_OUTPUT

NAME = "onnx"
SUFFIX = ".onnx"
MAX_SIDE = 4096


def backend_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("onnx", "onnxscript")}


def _onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise MissingBackendError("onnx", "onnx") from None
    return onnx


def convert(graph: nn.Module) -> dict[str, bytes]:
    """A fresh export; initializers stored as raw little-endian data, metadata placeholder set."""
    onnx = _onnx()
    # "torchvision is not installed. Skipping torchvision::nms" x4: torch sets this logger's level when it loads
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    height = torch.export.Dim("height", min=16, max=MAX_SIDE)
    width = torch.export.Dim("width", min=16, max=MAX_SIDE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph.eval(), (torch.rand(1, 3, 64, 64) * 255,), dynamo=True, input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_shapes=({2: height, 3: width},), verbose=False,
        )
    model = program.model_proto
    for init in model.graph.initializer:
        if not init.HasField("raw_data") and init.data_type == onnx.TensorProto.FLOAT:
            array = onnx.numpy_helper.to_array(init)
            init.ClearField("float_data")
            init.raw_data = array.astype("<f4").tobytes()
    prop = model.metadata_props.add()
    prop.key, prop.value = METADATA_KEY, PLACEHOLDER
    return {"model.onnx": model.SerializeToString()}


def float_regions(files: dict[str, bytes], n_values: int) -> list[Region]:
    """Each float32 initializer's raw data, located in the serialized file."""
    onnx = _onnx()
    data = files["model.onnx"]
    model = onnx.ModelProto()
    model.ParseFromString(data)
    regions = []
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or not init.raw_data:
            continue
        raw = bytes(init.raw_data)
        offset = data.find(raw)
        if offset >= 0 and data.count(raw) == 1:
            regions.append(Region("model.onnx", offset, np.frombuffer(data, "<f4", len(raw) // 4, offset)))
    return regions
