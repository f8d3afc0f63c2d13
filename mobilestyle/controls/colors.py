"""Keep the photo's colours: the stylized picture's luma with the photo's chroma (YCbCr, ITU-R BT.601).

BT.601 YCbCr is an affine function of RGB, and changing Y alone (Cb, Cr held) moves R, G and B by the same
amount. So the result is

    out = clamp(photo + (Y(stylized) - Y(photo)) * (1, 1, 1), 0, 255)

one 1x1 convolution (every output channel = the luma row 0.299, 0.587, 0.114) on ``stylized - photo``, an add
and a clamp: ops every exporter and runtime has (no colour-space conversion op, no per-pixel division).
Where the clamp bites (a bright stylized luma on a saturated photo colour) chroma cannot be kept exactly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mobilestyle.controls.wrapper import NetWrapper

LUMA_BT601 = (0.299, 0.587, 0.114)
COLOR_MODE = "ycbcr-bt601"
# full-range BT.601 (JPEG): Cb, Cr rows; offsets 128
_CB = (-0.168736, -0.331264, 0.5)
_CR = (0.5, -0.418688, -0.081312)


def _luma_matrix() -> torch.Tensor:
    return torch.tensor([LUMA_BT601] * 3, dtype=torch.float32).reshape(3, 3, 1, 1)


class PreserveColors(NetWrapper):
    """``net``'s luma, the input photo's chroma. Input and output: RGB 0..255 NCHW.

    ``export`` converts it as it is, with the TransformNet inside in its fast export form (and rescaled for fp16);
    the file's metadata gets the inner net's ``config`` as its ``arch`` and ``export_metadata``.
    """

    luma: torch.Tensor

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        # not persistent: a constant in every converted file, not a weight the conversion cache patches
        self.register_buffer("luma", _luma_matrix(), persistent=False)

    def own_metadata(self) -> dict[str, object]:
        return {"preserve_colors": COLOR_MODE}

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        stylized = self.net(rgb)
        return (rgb + F.conv2d(stylized - rgb, self.luma)).clamp(0.0, 255.0)


def ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """RGB 0..255 NCHW -> full-range BT.601 Y, Cb, Cr (NCHW, Cb/Cr centred on 128)."""
    matrix = torch.tensor([LUMA_BT601, _CB, _CR], dtype=rgb.dtype, device=rgb.device)
    offset = torch.tensor([0.0, 128.0, 128.0], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return torch.einsum("oc,nchw->nohw", matrix, rgb) + offset


def preserve_colors_array(photo: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The same function on H x W x 3 arrays (0..255): for outputs of files exported without the wrapper."""
    photo = photo.astype(np.float32)
    delta = (stylized.astype(np.float32) - photo) @ np.asarray(LUMA_BT601, np.float32)
    return np.clip(photo + delta[..., None], 0.0, 255.0)
