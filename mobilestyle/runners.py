"""One way to run a style net whatever its form: the Runner protocol, TorchRunner (PyTorch) and the
thread / stderr helpers the runtimes share. Each exported format's runner lives in its export/*_format.py
(open one by file: mobilestyle.export.open_model).

Every runner takes and returns an HxWx3 float32 RGB array on the 0..255 scale, so callers (stylize,
verification, bench) never see a format's layout (ONNX NCHW, TFLite NHWC) or its signatures.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MobilestyleError

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def channels_last(module: ModuleT) -> ModuleT:
    """``module.to(memory_format=torch.channels_last)`` (its 4-D weights), typed: torch's stub of ``Module.to`` lacks
    the keyword it takes."""
    to: Callable[..., ModuleT] = module.to
    return to(memory_format=torch.channels_last)


class Runner(Protocol):
    format: str
    path: Path | None

    def run(self, rgb: np.ndarray) -> np.ndarray: ...


def check_image(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise MobilestyleError(f"expected an HxWx3 RGB array, got shape {tuple(rgb.shape)}")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def check_multiple_of_4(rgb: np.ndarray) -> None:
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
        rgb = check_image(rgb)
        check_multiple_of_4(rgb)
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
        return self.module(tensor)[0].permute(1, 2, 0).contiguous().numpy()


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
