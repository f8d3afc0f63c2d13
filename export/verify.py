"""Verification shared by the formats: a fixed picture, the net in PyTorch as the reference, parity, accuracy limits."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.errors import MobilestyleError
from mobilestyle.runners import Runner, channels_last, torch_threads
from mobilestyle.transformer import InstanceNorm

MAX_ABS_FP32 = 1e-3
OWN_ERROR_FACTOR = 3.0
# Errors are measured against PyTorch fp32, and against float64 before failing a file: PyTorch's own fp32 output
# can be ~1e-3 off the exact function on random 8-base nets. ONNX Runtime and LiteRT fp32 land at 2-6e-4 of it
# (LiteRT only since the export graph takes its instance-norm means in two steps: export/graph.py).
# Against float64 the fp32 limit is 1e-3 or OWN_ERROR_FACTOR times PyTorch fp32's own error on the same images,
# whichever is larger: fp32 arithmetic itself sits near 1e-3 on these nets (wide 16/32-base nets, K up to 1152 per conv:
# PyTorch 0.6-0.9e-3, LiteRT 0.9-1.3e-3 on random nets; the trained default model's nets up to 2e-3), whatever runs
# them. PyTorch's own error is the worse of its two CPU kernel layouts (contiguous and channels-last sum in different
# orders; either is the worse one, by up to 6x on one net): one layout alone is one sample of fp32's rounding and
# can be small by chance. Measured on a 2-core AVX2 EPYC (docs/export.md, 2026-12-03) over the 33 eval styles at 64²
# and 256², the shipped model's nets and a tiny run's: LiteRT fp32 up to 1.9x the worse layout (2.0x contiguous
# alone, which failed `export en_campo_gris.jpg --precision fp32` under a factor of 2), onnxruntime up to 1.6x; an AMX
# Xeon's LiteRT 1.75e-3 against PyTorch 1.2e-3. A file with one weight 0.1 % off is 0.036-0.072 off at 256², with
# fp16-rounded weights 0.35-0.6: 10x and 100x over the limits this factor gives.
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
    fp32 output is up to ~1e-3 off the exact function on 0..255 (float64 is slower, ~0.5 s at 256²), and
    ``channels_last()`` the fp32 run in PyTorch's other CPU kernel layout, a second measure of that error.
    """

    format = "torch"
    path: Path | None = None

    def __init__(
        self, net: nn.Module, dtype: torch.dtype = torch.float32, memory_format: torch.memory_format = torch.contiguous_format
    ) -> None:
        plain = dtype == torch.float32 and memory_format == torch.contiguous_format
        self.net = net if plain else copy.deepcopy(net).to(dtype)
        if memory_format == torch.channels_last:
            self.net = channels_last(self.net)
        self.dtype = dtype
        self.memory_format = memory_format
        self.outputs: dict[tuple, np.ndarray] = {}
        self._exact: TorchReference | None = None
        self._channels_last: TorchReference | None = None

    def run(self, rgb: np.ndarray) -> np.ndarray:
        key = (rgb.shape, hash(rgb.tobytes()))
        if key not in self.outputs:
            image = torch.from_numpy(rgb).to(self.dtype).permute(2, 0, 1).unsqueeze(0).contiguous(memory_format=self.memory_format)
            with torch_threads(VERIFY_THREADS), torch.no_grad():
                out = self.net.eval()(image)
            self.outputs[key] = np.ascontiguousarray(out[0].permute(1, 2, 0).numpy(), dtype=np.float32)
        return self.outputs[key]

    def exact(self) -> TorchReference:
        if self._exact is None:
            self._exact = self if self.dtype == torch.float64 else TorchReference(self.net, torch.float64)
        return self._exact

    def channels_last(self) -> TorchReference:
        if self._channels_last is None:
            self._channels_last = TorchReference(self.net, self.dtype, torch.channels_last)
        return self._channels_last


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


def pytorch_fp32_error(reference: TorchReference, shapes: list[tuple[int, int]]) -> float:
    """PyTorch fp32's own max abs error against float64 on the test images: the worse of its two kernel layouts."""
    exact, layouts = reference.exact(), [reference, reference.channels_last()]
    errors = []
    for image in (parity_image(h, w) for h, w in shapes):
        for layout in list(layouts):
            try:
                errors.append(float(np.abs(layout.run(image) - exact.run(image)).max()))
            except RuntimeError:  # a module that needs its own layout (e.g. a .view of a tensor): measured in one
                layouts.remove(layout)
    return max(errors)


def fp32_limit_vs_exact(reference: TorchReference, shapes: list[tuple[int, int]]) -> float:
    """The fp32 limit against float64 (module notes): 1e-3, or OWN_ERROR_FACTOR times PyTorch fp32's own error."""
    return max(MAX_ABS_FP32, OWN_ERROR_FACTOR * pytorch_fp32_error(reference, shapes))


def verify_parity(
    runner: Runner, reference: TorchReference, shapes: list[tuple[int, int]], precision: str, what: str, label: str
) -> tuple[str, Parity]:
    """Parity of a written file against the net in PyTorch, held to ``precision``'s limit; returns (how, parity).

    An fp32 file over MAX_ABS_FP32 is measured again against float64 before it fails (module notes above).
    """
    result, limit = parity(runner, reference, shapes), MAX_ABS_FP32
    label = f"{label} vs PyTorch"
    if precision == "fp32" and result.max_abs_error > MAX_ABS_FP32:
        result, limit = parity(runner, reference.exact(), shapes), fp32_limit_vs_exact(reference, shapes)
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
