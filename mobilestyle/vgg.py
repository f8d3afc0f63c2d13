"""Frozen VGG-16 (original Oxford / Caffe weights) with named feature taps.

Input convention of the weights: BGR, 0..255, ImageNet mean subtracted, no std division. The
encoder takes RGB 0..255 tensors and does that conversion itself.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from mobilestyle.atomic import atomic_path, sha256_file
from mobilestyle.errors import MobilestyleError

TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# (name, in, out) of the 10 convs up to conv4_3; pools after conv1_2, conv2_2, conv3_3.
_CONVS = [
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
]
# index of each conv in torchvision's ``features`` Sequential (the weight files use these keys)
_TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21]
_POOL_AFTER = {"conv1_2", "conv2_2", "conv3_3"}
TAP_CHANNELS = {"relu1_2": 64, "relu2_2": 128, "relu3_3": 256, "relu4_3": 512}
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

WEIGHTS_ENV = "MOBILESTYLE_VGG16"
DOWNLOAD_URL = "https://web.eecs.umich.edu/~justincj/models/vgg16-00b39a1b.pth"
DOWNLOAD_NAME = "vgg16-00b39a1b.pth"
# torch.hub convention: the file name carries the first hex digits of its sha256.
DOWNLOAD_SHA256_PREFIX = "00b39a1b"
CACHE_NAMES = ("vgg16_caffe_features.pth", DOWNLOAD_NAME, "vgg16_caffe_features_to_relu4_3_fp16.pth")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mobilestyle"


def _download(target: Path) -> Path:
    """Fetch the community's Caffe-converted VGG-16 into ``target``; checked before it replaces anything."""
    with atomic_path(target) as tmp:
        try:
            with urllib.request.urlopen(DOWNLOAD_URL, timeout=30) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except OSError as exc:
            raise MobilestyleError(
                f"VGG-16 weights not found and the download failed ({exc}). Provide the Caffe-converted "
                f"VGG-16 file with --vgg-weights PATH or {WEIGHTS_ENV}=PATH, or put it in {cache_dir()}/"
            ) from None
        if not sha256_file(tmp).startswith(DOWNLOAD_SHA256_PREFIX):
            raise MobilestyleError(f"downloaded VGG-16 weights fail their sha256 check ({DOWNLOAD_URL})")
    return target


def resolve_weights(explicit: str | Path | None = None, allow_download: bool = True) -> Path:
    """Find the VGG-16 weights: explicit path, then $MOBILESTYLE_VGG16, then the user cache, then download."""
    for source, value in (("--vgg-weights", explicit), (WEIGHTS_ENV, os.environ.get(WEIGHTS_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise MobilestyleError(f"VGG-16 weights given by {source} not found: {path}")
            return path
    for name in CACHE_NAMES:
        if (cache_dir() / name).is_file():
            return cache_dir() / name
    if allow_download and os.environ.get("MOBILESTYLE_OFFLINE") != "1":
        return _download(cache_dir() / DOWNLOAD_NAME)
    raise MobilestyleError(
        f"VGG-16 weights not found: pass --vgg-weights PATH, set {WEIGHTS_ENV}=PATH, or put {DOWNLOAD_NAME} in {cache_dir()}/"
    )


def load_vgg_state(path: Path) -> dict[str, torch.Tensor]:
    """Load and check a torchvision-keyed VGG-16 state dict; any problem is a clear error."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt/truncated pickles
        raise MobilestyleError(f"VGG-16 weights {path} are unreadable or corrupt ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise MobilestyleError(f"VGG-16 weights {path} do not hold a state dict")
    converted: dict[str, torch.Tensor] = {}
    for (name, c_in, c_out), index in zip(_CONVS, _TORCHVISION_INDEX):
        weight, bias = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
        if weight is None or bias is None or tuple(weight.shape) != (c_out, c_in, 3, 3):
            raise MobilestyleError(f"VGG-16 weights {path} lack {name} (features.{index}) of shape {c_out}x{c_in}x3x3")
        converted[f"{name}.weight"] = weight.float()
        converted[f"{name}.bias"] = bias.float()
    return converted


class VGGEncoder(nn.Module):
    """VGG-16 up to the deepest requested tap; returns a dict tap name -> features."""

    mean_bgr: torch.Tensor

    def __init__(self, state: dict[str, torch.Tensor] | None = None, taps: Sequence[str] = TAPS) -> None:
        super().__init__()
        unknown = set(taps) - set(TAPS)
        if unknown:
            raise ValueError(f"unknown VGG taps {sorted(unknown)}")
        self.taps = tuple(taps)
        deepest = max(TAPS.index(t) for t in taps)
        last_conv = {0: "conv1_2", 1: "conv2_2", 2: "conv3_3", 3: "conv4_3"}[deepest]
        self.layers = nn.ModuleDict()
        for name, c_in, c_out in _CONVS:
            self.layers[name] = nn.Conv2d(c_in, c_out, 3, padding=1)
            if name == last_conv:
                break
        if state is not None:
            self.load_state_dict({f"layers.{k}": v for k, v in state.items() if k.split(".")[0] in self.layers})
        mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        self.register_buffer("mean_bgr", mean, persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_weights(cls, path: str | Path | None = None, taps: Sequence[str] = TAPS) -> VGGEncoder:
        return cls(load_vgg_state(resolve_weights(path)), taps)

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) - self.mean_bgr.to(rgb.dtype)

    def forward(self, rgb: torch.Tensor, taps: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Features at ``taps`` (default: the encoder's own); the convs after the deepest one asked for are not run,
        e.g. a photo's content features need no conv4_x."""
        wanted = self.taps if taps is None else tuple(taps)
        if not set(wanted) <= set(self.taps):
            raise ValueError(f"VGG taps {sorted(set(wanted) - set(self.taps))} not in this encoder's {self.taps}")
        x = self.preprocess(rgb)
        out: dict[str, torch.Tensor] = {}
        for name, conv in self.layers.items():
            x = torch.relu(conv(x))
            tap = "relu" + name[4:]
            if tap in wanted:
                out[tap] = x
                if len(out) == len(wanted):
                    break
            if name in _POOL_AFTER:
                x = nn.functional.max_pool2d(x, 2, 2)
        return out


def mean_std(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over spatial positions: std = sqrt(E[x^2] - E[x]^2 + eps)."""
    flat = features.flatten(2).float()
    mean = flat.mean(-1)
    var = (flat.square().mean(-1) - mean.square()).clamp_min(0)
    return mean, (var + eps).sqrt()


def style_statistics(features: dict[str, torch.Tensor], taps: Sequence[str] = TAPS) -> torch.Tensor:
    """Concatenate mean and std of each tap: 2*(64+128+256+512) = 1920 values per image."""
    parts = []
    for tap in taps:
        mean, std = mean_std(features[tap])
        parts += [mean, std]
    return torch.cat(parts, dim=1)


def split_statistics(stats: torch.Tensor, layers: Sequence[str] = TAPS) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The inverse of ``style_statistics``: B x 1920 -> {tap: (mean B x C, std B x C)} for the taps in ``layers``."""
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    offset = 0
    for tap in TAPS:
        channels = TAP_CHANNELS[tap]
        if tap in layers:
            out[tap] = (stats[:, offset : offset + channels], stats[:, offset + channels : offset + 2 * channels])
        offset += 2 * channels
    return out
