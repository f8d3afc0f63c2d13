"""ONNX: torch.onnx (dynamo) export with dynamic height/width, NCHW float32 0..255 in and out; run in onnxruntime."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export.layout import Region
from mobilestyle.export.metadata import METADATA_KEY, PLACEHOLDER
from mobilestyle.export.model_format import INPUT_NAME, MAX_RUN_SIDE, OUTPUT_NAME, ModelFormat
from mobilestyle.runners import check_image, check_multiple_of_4

MIN_RUN_SIDE = 16


def _onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise MissingBackendError("onnx", "onnx") from None
    return onnx


class OnnxRunner:
    """An .onnx file in onnxruntime (input "image" NCHW 0..255, dynamic H and W)."""

    format = "onnx"

    def __init__(self, path: Path, threads: int | None = None, spinning: bool = True) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingBackendError("onnxruntime", "onnx") from None
        self.path: Path | None = path
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if not spinning:  # idle worker threads sleep instead of busy-waiting (one-off runs, shared CPUs)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise MobilestyleError(f"{path}: cannot load ONNX model ({str(exc).splitlines()[0][:160]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def run(self, rgb: np.ndarray) -> np.ndarray:
        rgb = check_image(rgb)
        check_multiple_of_4(rgb)
        nchw = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
        (out,) = self.session.run([self.output_name], {self.input_name: nchw})
        return np.ascontiguousarray(out[0].transpose(1, 2, 0), dtype=np.float32)


def quiet_exporter_log() -> None:
    """ "torchvision is not installed. Skipping torchvision::nms" x4: torch sets this logger's level when it loads."""
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


def program_bytes(program: object) -> bytes:
    """A torch.onnx.export program as the file's bytes: float initializers stored as raw little-endian data (the
    templates find and patch them there) and the metadata placeholder set."""
    onnx = _onnx()
    if program is None:
        raise MobilestyleError("internal: torch.onnx.export returned no program")
    model = program.model_proto  # type: ignore[attr-defined]
    for init in model.graph.initializer:
        if not init.HasField("raw_data") and init.data_type == onnx.TensorProto.FLOAT:
            array = onnx.numpy_helper.to_array(init)
            init.ClearField("float_data")
            init.raw_data = array.astype("<f4").tobytes()
    prop = model.metadata_props.add()
    prop.key, prop.value = METADATA_KEY, PLACEHOLDER
    return model.SerializeToString()


class OnnxFormat(ModelFormat):
    name = "onnx"
    suffix = ".onnx"
    layout = "NCHW"
    backend_packages = (("onnx", "onnx"), ("onnxscript", "onnxscript"), ("onnxruntime", "onnxruntime"))
    converter_packages = ("onnx", "onnxscript")
    verify_label = "onnxruntime"

    def file_precision(self, precision: str) -> str:
        return "fp32"  # ONNX files are always fp32

    def convert(self, graph: nn.Module, sizes: Sequence[int] = (), precision: str = "fp32") -> dict[str, bytes]:
        """A fresh export; initializers stored as raw little-endian data, metadata placeholder set."""
        _onnx()  # a missing onnx / onnxscript fails here, naming the extra to install
        quiet_exporter_log()
        height = torch.export.Dim("height", min=MIN_RUN_SIDE, max=MAX_RUN_SIDE)
        width = torch.export.Dim("width", min=MIN_RUN_SIDE, max=MAX_RUN_SIDE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph.eval(),
                (torch.rand(1, 3, 64, 64) * 255,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({2: height, 3: width},),
                verbose=False,
            )
        return {"model.onnx": program_bytes(program)}

    def float_regions(self, files: dict[str, bytes], n_values: int) -> list[Region]:
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

    def verify_shapes(self, sizes: Sequence[int]) -> list[tuple[int, int]]:
        """The first size, square and at about half height (dynamic shapes: H != W must work too)."""
        side = sizes[0]
        return [(side, side), (side // 2 // 4 * 4 or 64, side)]

    def open_runner(self, path: Path | None, threads: int | None = None, quiet: bool = False, content: bytes | None = None) -> OnnxRunner:
        if path is None:
            raise MobilestyleError("internal: an ONNX runner needs a file")
        return OnnxRunner(path, threads, spinning=not quiet)

    def read_metadata_text(self, path: Path) -> str | None:
        try:
            import onnx
        except ImportError:
            raise MissingBackendError("onnx", "onnx") from None
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # protobuf decode errors have no common base class
            raise MobilestyleError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
        return next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)

    def check_self_contained(self, path: Path) -> None:
        """Refuse a model whose weights live in a separate .data file (the demos load one file)."""
        try:
            import onnx
        except ImportError:
            return  # onnxruntime alone still validates the model
        model = onnx.load(str(path), load_external_data=False)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            raise MobilestyleError(f"{path}: weights live in a separate .data file; bundle a single-file ONNX export")


FORMAT = OnnxFormat()
