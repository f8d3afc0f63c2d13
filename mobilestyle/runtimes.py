"""One way to run a style net whatever its form: PyTorch, an .onnx file or a .tflite file.

Every runner takes and returns an HxWx3 float32 RGB array on the 0..255 scale, so callers (stylize,
verification, bench) never see a format's layout (ONNX NCHW, TFLite NHWC) or its signatures.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError

ONNX_INPUT = "image"
ONNX_OUTPUT = "stylized"
_SIGNATURE = re.compile(r"^size_(\d+)x(\d+)$")


class Runner(Protocol):
    format: str
    path: Path | None

    def run(self, rgb: np.ndarray) -> np.ndarray: ...


def signature_name(height: int, width: int) -> str:
    """The TFLite signature that serves HxW inputs."""
    return f"size_{height}x{width}"


def _check_image(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise MobilestyleError(f"expected an HxWx3 RGB array, got shape {tuple(rgb.shape)}")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def _check_multiple_of_4(rgb: np.ndarray) -> None:
    height, width = rgb.shape[:2]
    if height % 4 or width % 4:
        raise MobilestyleError(f"image sides must be multiples of 4, got {height}x{width}")


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run PyTorch with ``threads`` intra-op threads inside the block (None: leave as is).

    Small one-off workloads (style encoding, verification passes) run several times faster on one
    thread when the CPU is shared: OpenMP workers of an oversubscribed pool mostly wait on each other.
    """
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchRunner:
    """A TransformNet (or its export graph) run in PyTorch."""

    format = "torch"

    def __init__(self, module: nn.Module, threads: int | None = None) -> None:
        self.module = module.eval()
        self.path: Path | None = None
        if threads:
            torch.set_num_threads(threads)

    @torch.no_grad()
    def run(self, rgb: np.ndarray) -> np.ndarray:
        rgb = _check_image(rgb)
        _check_multiple_of_4(rgb)
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
        return self.module(tensor)[0].permute(1, 2, 0).contiguous().numpy()


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
        rgb = _check_image(rgb)
        _check_multiple_of_4(rgb)
        nchw = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
        (out,) = self.session.run([self.output_name], {self.input_name: nchw})
        return np.ascontiguousarray(out[0].transpose(1, 2, 0), dtype=np.float32)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes to file descriptor 2 inside the block (errors still arrive as exceptions).

    MOBILESTYLE_DEBUG=1 keeps it. Python's own sys.stderr is flushed first and is not affected otherwise.
    """
    if os.environ.get("MOBILESTYLE_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
            match = _SIGNATURE.match(name)
            if match:
                self.signatures[(int(match.group(1)), int(match.group(2)))] = name
        if not self.signatures:  # a plain single-size file: read its input shape
            shape = self.interpreter.get_input_details()[0]["shape"]
            self.signatures[(int(shape[1]), int(shape[2]))] = next(iter(signatures), "")

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return sorted(self.signatures)

    def run(self, rgb: np.ndarray) -> np.ndarray:
        rgb = _check_image(rgb)
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


def check_own_model(path: Path) -> dict[str, Any]:
    """The file's mobilestyle metadata; a foreign model (Magenta's, any other) or an unreadable one is refused.

    Running a model blindly is how a foreign file "works" and writes an all-black picture: its inputs are not ours.
    """
    from mobilestyle.export.metadata import read_metadata

    try:
        meta = read_metadata(path)
    except MobilestyleError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise MobilestyleError(f"{path}: not a model made by mobilestyle export ({reason}); foreign models are not run") from None
    layout = {".onnx": "NCHW", ".tflite": "NHWC"}.get(path.suffix.lower())
    if meta.get("layout") != layout or meta.get("value_range") != [0, 255]:
        raise MobilestyleError(f"{path}: its metadata says layout {meta.get('layout')!r}, range {meta.get('value_range')}; "
                               f"expected {layout} on 0..255")
    return meta


def open_model(path: str | Path, threads: int | None = None, foreign_ok: bool = False) -> Runner:
    """Open an exported model by its suffix: .onnx or .tflite (CoreML needs macOS to predict).

    Only files with mobilestyle's metadata are opened unless ``foreign_ok`` (the bench times files as they are).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mlpackage" or suffix == ".mlmodel":
        raise MobilestyleError(f"{path}: CoreML predictions need macOS; use the .onnx or .tflite export here")
    if not path.exists():
        raise MobilestyleError(f"{path}: no such file")
    if path.is_dir():
        raise MobilestyleError(f"{path}: is a folder, not a model file")
    if suffix not in (".onnx", ".tflite"):
        raise MobilestyleError(f"{path}: unknown model type {suffix or '(no suffix)'}; expected .onnx or .tflite")
    if not foreign_ok:
        check_own_model(path)
    if suffix == ".onnx":
        return OnnxRunner(path, threads)
    if suffix == ".tflite":
        return TfliteRunner(path, threads)
    raise MobilestyleError(f"{path}: unknown model type {suffix or '(no suffix)'}; expected .onnx or .tflite")
