"""Zero-copy inference callables per runtime, for timing (inputs prepared once, outputs discarded).

The plain way to run a file (checked inputs, HxWx3 in and out) is a Runner: mobilestyle.export.open_model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export.tflite_format import tflite_interpreter

Invoke = Callable[[], object]


def _random_input(shape: tuple[int, ...], seed: int = 0, dtype: np.dtype | type = np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return (rng.random(shape) * 255.0).astype(dtype)


def onnx_invoke(path: Path, size: tuple[int, int], threads: int, device: str = "cpu") -> Invoke:
    """A call that runs one NCHW 0..255 image through the .onnx file in onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingBackendError("onnxruntime", "onnx") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise MobilestyleError("onnxruntime has no CUDA execution provider here: pip install onnxruntime-gpu")
        providers = ["CUDAExecutionProvider"]
    session = ort.InferenceSession(str(path), options, providers=providers)
    feeds = {}
    for arg in session.get_inputs():
        shape = tuple(d if isinstance(d, int) else s for d, s in zip(arg.shape, (1, 3, *size)))
        feeds[arg.name] = _random_input(shape)
    outputs = [o.name for o in session.get_outputs()]
    return lambda: session.run(outputs, feeds)


def tflite_invoke(path: Path, threads: int, signature: str | None = None) -> Invoke:
    """A call that runs the .tflite file (one signature, or its only graph) once in LiteRT with XNNPACK."""
    interpreter = tflite_interpreter(path, threads)
    if signature:
        runner = interpreter.get_signature_runner(signature)
        feeds = {name: _random_input(tuple(d["shape"]), dtype=d["dtype"]) for name, d in runner.get_input_details().items()}
        return lambda: runner(**feeds)
    for index, detail in enumerate(interpreter.get_input_details()):
        interpreter.set_tensor(detail["index"], _random_input(tuple(detail["shape"]), seed=index, dtype=detail["dtype"]))
    return interpreter.invoke


def torch_invoke(module: nn.Module, size: tuple[int, int], threads: int, device: str = "cpu", compile_module: bool = False) -> Invoke:
    """A call that runs ``module`` on one NCHW 0..255 image in PyTorch (eager, or torch.compile)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise MobilestyleError("--device cuda: PyTorch sees no CUDA device here")
    torch.set_num_threads(threads)
    module = module.eval().to(device)
    image = torch.from_numpy(_random_input((1, 3, *size))).to(device)
    run: Callable[[torch.Tensor], object] = torch.compile(module) if compile_module else module
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    @torch.inference_mode()
    def invoke() -> object:
        out = run(image)
        sync()
        return out

    return invoke
