"""Keep the photo's fine detail: add back the photo's luma high-pass after the style net.

The 8-base net cannot draw fine detail (hair, eyelashes, small text); the photo has it. With ``amount`` a and blur
width ``sigma`` (pixels),

    out = clamp(stylized + a * (Y(photo) - blur_sigma(Y(photo))) * (1, 1, 1), 0, 255)

with Y the BT.601 luma. The detail is added to R, G and B alike (it changes luma only), so it composes with
``PreserveColors`` (put it inside: the luma that wrapper takes then carries the detail). The blur is a separable
Gaussian, normalised at the borders (``blur(x) / blur(1)``, zero padding): ops every exporter and runtime has (1x1
and 1xK / Kx1 convolutions, divisions, an add and a clamp), no padding mode a converter could miss.

Measured on the 33 held-out styles (docs/controls.md): a = 0.5 lifts SSIM vs the photo by ~0.05 for ~+8 % style
loss; it trades along the content/style line, a user's choice, not a better model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mobilestyle.controls.colors import LUMA_BT601
from mobilestyle.controls.wrapper import NetWrapper

DEFAULT_SIGMA = 1.0


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """1-D Gaussian of width ``sigma`` px over +-ceil(3 sigma), summing to 1."""
    if not 0.3 <= sigma <= 8:
        raise ValueError(f"detail blur sigma {sigma} outside 0.3..8 px")
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).float()


def luma_detail(rgb: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W: the luma of ``rgb`` (NCHW 0..255) minus its border-normalised Gaussian blur."""
    luma = F.conv2d(rgb, torch.tensor(LUMA_BT601, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1))
    return luma - _blur_along(_blur_along(luma, kernel, dim=3), kernel, dim=2)


def _blur_along(x: torch.Tensor, kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` (N x 1 x H x W) blurred along W (dim 3) or H (dim 2), divided by the kernel weight inside the picture.

    The weights come from one row (or column) of ones: dividing pass by pass equals dividing by the 2-D blur of ones,
    and what a converter folds stays a small vector, not an H x W map."""
    radius = kernel.numel() // 2
    shape, padding = ((1, 1, 1, -1), (0, radius)) if dim == 3 else ((1, 1, -1, 1), (radius, 0))
    weights = kernel.view(shape)
    ones = x.narrow(5 - dim, 0, 1) * 0 + 1  # one row (blurring along W) or one column (along H)
    return F.conv2d(x, weights, padding=padding) / F.conv2d(ones, weights, padding=padding)


class KeepDetail(NetWrapper):
    """``net``'s output plus ``amount`` times the photo's luma detail. Input and output: RGB 0..255 NCHW."""

    kernel: torch.Tensor

    def __init__(self, net: nn.Module, amount: float, sigma: float = DEFAULT_SIGMA) -> None:
        super().__init__(net)
        if not 0 < amount <= 2:
            raise ValueError(f"detail amount {amount} outside (0, 2]")
        self.amount = float(amount)
        self.sigma = float(sigma)
        # not persistent: constants of the converted graph (export_metadata keys the conversion cache on them)
        self.register_buffer("kernel", gaussian_kernel(sigma), persistent=False)

    def own_metadata(self) -> dict[str, object]:
        return {"keep_detail": self.amount, "detail_sigma": self.sigma}

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return (self.net(rgb) + self.amount * luma_detail(rgb, self.kernel)).clamp(0.0, 255.0)


def keep_detail_array(photo: np.ndarray, stylized: np.ndarray, amount: float, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """The same function on H x W x 3 arrays (0..255): for outputs of files exported without the wrapper."""
    with torch.no_grad():
        rgb = torch.from_numpy(np.ascontiguousarray(photo, np.float32)).permute(2, 0, 1)[None]
        detail = luma_detail(rgb, gaussian_kernel(sigma))[0, 0].numpy()
    return np.clip(stylized.astype(np.float32) + amount * detail[..., None], 0.0, 255.0)
