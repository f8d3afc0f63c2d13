"""Verification shared by the formats: a fixed picture, the net in PyTorch as the reference, parity, accuracy limits."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MobilestyleError
from mobilestyle.runners import Runner, torch_threads
from mobilestyle.transformer import InstanceNorm

MAX_ABS_FP32 = 1e-3
# Errors are measured against PyTorch fp32, and against float64 before failing a file: PyTorch's own fp32 output
# can be ~1e-3 off the exact function on random 8-base nets. ONNX Runtime and LiteRT fp32 land at 2-6e-4 of it
# (LiteRT only since the export graph takes its instance-norm means in two steps: export/graph.py).
OWN_ERROR_FACTOR = 2.0
# Against float64 the fp32 limit is 1e-3 or twice PyTorch fp32's own error on the same images, whichever is larger:
# wide nets (16/32-base, K up to 1152 per conv) sit near 1e-3 in fp32 arithmetic itself (PyTorch 0.6-0.9e-3, LiteRT
# 0.9-1.3e-3 on random nets), whatever runs them. The 8-base nets meet 1e-3 on AVX2/AVX-512 CPUs; on an AMX Xeon a test
# net was 1.75e-3 off in LiteRT fp32 with PyTorch fp32 itself 1.2e-3 off (docs/export.md).
# fp16: XNNPACK runs fp16-weight files in fp16 arithmetic (11-bit mantissa) through 17 layers. The trained default
# model's nets (sharper, higher-contrast outputs than the early ones that set a limit of 1.0) differ from PyTorch by
# up to 2.9 grey levels at single pixels and PSNR >= 62 dB over the 33 eval styles (docs/export.md); PyTorch's own
# half-precision forward pass is off by as much (4.6). A broken file (overflow, a wrong weight) misses both limits.
# The largest single-pixel errors grow with the number of pixels (the tail of a sum of many rounding errors): the
# same nets reach 5.6 at 512², 6.1 at 768² and 9.3 at 1024² while PSNR stays >= 61 dB. So the 6.0 applies to the
# 99.99th percentile of the absolute error (all but 1 value in 10,000), and every value must stay within
# MAX_ABS_FP16_OUTLIER: a broken file (overflow, a wrong weight) misses the PSNR and the tail by far.
MAX_ABS_FP16 = 6.0
FP16_TAIL_QUANTILE = 99.99
MAX_ABS_FP16_OUTLIER = 32.0
MIN_PSNR_FP16 = 50.0
MIN_PSNR_INT8 = 30.0
VERIFY_THREADS = 1  # one-off passes (style encoding, verification): see runners.torch_threads


def parity_image(height: int, width: int, seed: int = 7) -> np.ndarray:
    """A deterministic HxWx3 picture on 0..255: smooth colour ramps, edges and fine texture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    rng = np.random.default_rng(seed)
    texture = rng.normal(0.0, 18.0, (height, width, 3)).astype(np.float32)
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.06).astype(np.float32)[..., None]
    base = np.stack([255 * x, 255 * y, 255 * (1 - x) * (0.5 + 0.5 * np.sin(8 * y))], axis=-1)
    return np.clip(base * (1 - disc) + disc * np.array([230, 40, 60], np.float32) + texture, 0, 255).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


class TorchReference:
    """The net in PyTorch, run once per picture shape and shared by every format of one net.

    fp32 by default; ``exact()`` gives the float64 run, used before failing an fp32 file: PyTorch's own
    fp32 output is up to ~1e-3 off the exact function on 0..255 (float64 is slower, ~0.5 s at 256²).
    """

    format = "torch"
    path: Path | None = None

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


@dataclass
class Parity:
    max_abs_error: float
    psnr_db: float
    finite: bool
    tail_abs_error: float = 0.0  # the FP16_TAIL_QUANTILE-th percentile of the absolute error (worst over the shapes)

    def check(self, precision: str, what: str, fp32_limit: float = MAX_ABS_FP32) -> None:
        """Raise MobilestyleError when the accuracy limit of ``precision`` is missed."""
        if not self.finite:
            raise MobilestyleError(f"{what}: verification failed: the output holds NaN or Inf")
        if precision == "fp32" and self.max_abs_error > fp32_limit:
            raise MobilestyleError(f"{what}: verification failed: max abs error {self.max_abs_error:.3g} > {fp32_limit:.3g} (fp32)")
        if precision == "fp16" and self.tail_abs_error > MAX_ABS_FP16:
            raise MobilestyleError(
                f"{what}: verification failed: {FP16_TAIL_QUANTILE:g}th percentile of the abs error {self.tail_abs_error:.3g} "
                f"> {MAX_ABS_FP16} (fp16)"
            )
        if precision == "fp16" and self.max_abs_error > MAX_ABS_FP16_OUTLIER:
            raise MobilestyleError(f"{what}: verification failed: max abs error {self.max_abs_error:.3g} > {MAX_ABS_FP16_OUTLIER} (fp16)")
        if precision == "fp16" and self.psnr_db < MIN_PSNR_FP16:
            raise MobilestyleError(f"{what}: verification failed: PSNR {self.psnr_db:.1f} dB < {MIN_PSNR_FP16} dB (fp16)")
        if precision == "int8" and self.psnr_db < MIN_PSNR_INT8:
            raise MobilestyleError(f"{what}: verification failed: PSNR {self.psnr_db:.1f} dB < {MIN_PSNR_INT8} dB vs fp32 (int8)")


def parity(runner: Runner, reference: Runner, shapes: list[tuple[int, int]]) -> Parity:
    """Worst error of ``runner`` against ``reference`` over the test image at each shape."""
    worst, tail, lowest_psnr, finite = 0.0, 0.0, float("inf"), True
    for height, width in shapes:
        image = parity_image(height, width)
        expected = reference.run(image)
        got = runner.run(image)
        if got.shape != expected.shape:
            raise MobilestyleError(f"verification failed: output shape {got.shape} != {expected.shape}")
        finite = finite and bool(np.isfinite(got).all())
        error = np.abs(got - expected)
        worst = max(worst, float(error.max()))
        tail = max(tail, float(np.percentile(error, FP16_TAIL_QUANTILE)))
        lowest_psnr = min(lowest_psnr, psnr(got, expected))
    return Parity(worst, lowest_psnr, finite, tail)


def fp32_limit_vs_exact(reference: Runner, exact: Runner, shapes: list[tuple[int, int]]) -> float:
    """The fp32 limit against float64 (OWN_ERROR_FACTOR above): 1e-3, or twice PyTorch fp32's own error."""
    own = max(float(np.abs(reference.run(parity_image(h, w)) - exact.run(parity_image(h, w))).max()) for h, w in shapes)
    return max(MAX_ABS_FP32, OWN_ERROR_FACTOR * own)


def verify_parity(
    runner: Runner, reference: TorchReference, shapes: list[tuple[int, int]], precision: str, what: str, label: str
) -> tuple[str, Parity]:
    """Parity of a written file against the net in PyTorch, held to ``precision``'s limit; returns (how, parity).

    An fp32 file over MAX_ABS_FP32 is measured again against float64 before it fails (module notes above).
    """
    result, limit = parity(runner, reference, shapes), MAX_ABS_FP32
    label = f"{label} vs PyTorch"
    if precision == "fp32" and result.max_abs_error > MAX_ABS_FP32:
        result, limit = parity(runner, reference.exact(), shapes), fp32_limit_vs_exact(reference, reference.exact(), shapes)
        label += " float64"
        if limit > MAX_ABS_FP32:
            label += f" (limit {limit:.2g}: {OWN_ERROR_FACTOR:g}x PyTorch fp32's own error)"
    result.check(precision, what, limit)
    return f"{label} at {', '.join(f'{h}x{w}' for h, w in shapes)}", result


FP16_MAX = 65504.0


def fp16_norm_headroom(net: nn.Module, image: np.ndarray) -> float:
    """Largest |x| entering an instance norm on ``image``: fp16 computes x², so it must stay well under 255."""
    largest = 0.0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        nonlocal largest
        largest = max(largest, float(inputs[0].abs().max()))

    handles = [m.register_forward_pre_hook(hook) for m in net.modules() if isinstance(m, InstanceNorm)]
    try:
        with torch.no_grad():
            net(torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0))
    finally:
        for handle in handles:
            handle.remove()
    return largest


GUARD_SIDE = 96  # activation magnitudes hardly depend on the picture's size: check on a small one


def check_fp16_guard(net: nn.Module) -> str:
    """Raise when the fp16 file's instance norms would overflow (x² > 65504); else describe the headroom."""
    with torch_threads(1):
        largest = fp16_norm_headroom(net, parity_image(GUARD_SIDE, GUARD_SIDE))
    if largest**2 >= FP16_MAX / 4:
        raise MobilestyleError(f"fp16 guard: activations reach {largest:.0f} before an instance norm (x² near fp16's 65504); export fp32")
    return f"fp16 guard: max |x| into instance norms {largest:.1f}, x² {largest**2:.0f} << 65504"
