"""The image transformation network: one nn.Module for every width and variant.

Shen et al.'s fast net (base 8 = the 449 KB net): 9x9 conv 3->b (bias, ReLU), two 3x3 stride-2 convs
(b->2b->4b), five residual blocks of 4b, two 4x4 stride-2 transposed convs (4b->2b->b), a 9x9 conv b->3.
Every conv but the first and the last is followed by instance norm and holds the style; those 14
convs have no bias (the meta network generates their weights). MetaStyle uses the same skeleton with
Johnson's choices: base 32, nearest-neighbour upsampling + 3x3 conv, affine instance norm.

With ``input_skip`` (an extension, docs/training.md section 6) the output adds ``skip * (photo - 127.5)``, three
per-channel gains (emitted per style by the meta network): a style can keep the photo without the net having to
reconstruct it through its bottleneck. Off in the shipped model.

Input and output are RGB images on the 0..255 scale (NCHW float). Inside, pixels are mapped to
[-1, 1] first, which keeps the first instance norm's squares inside fp16's range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Padding = Literal["zero", "reflect", "prepad"]
Upsample = Literal["deconv", "nearest"]
PREPAD = 40
N_RESIDUAL = 5


@dataclass(frozen=True)
class NetConfig:
    base: int = 8
    padding: Padding = "zero"
    upsample: Upsample = "deconv"
    affine_norm: bool = False
    input_skip: bool = False

    def __post_init__(self) -> None:
        if self.base not in (8, 16, 32):
            raise ValueError(f"base width must be 8, 16 or 32, not {self.base}")
        if self.padding not in ("zero", "reflect", "prepad"):
            raise ValueError(f"unknown padding {self.padding!r}")
        if self.upsample not in ("deconv", "nearest"):
            raise ValueError(f"unknown upsample {self.upsample!r}")
        if self.padding == "prepad" and self.upsample != "deconv":
            raise ValueError("prepad is Shen's layout and needs deconv upsampling")

    def to_dict(self) -> dict:
        """The fields; ``input_skip`` only when on, so headers and metadata written before it stay the same."""
        data = asdict(self)
        if not self.input_skip:
            del data["input_skip"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NetConfig:
        return cls(**{k: data[k] for k in ("base", "padding", "upsample", "affine_norm", "input_skip") if k in data})

    @property
    def size_multiple(self) -> int:
        """Input sides must be multiples of this (two stride-2 stages)."""
        return 4


NORM_AFTER = {"conv1": "norm1", "conv2": "norm2", "conv_a": "norm_a", "conv_b": "norm_b", "up0": "norm_up0", "up1": "norm_up1"}
"""The instance norm that follows each style-dependent conv (named as in TransformNet / ResidualBlock)."""


def generated_layer_names() -> list[str]:
    """The 14 style-dependent convs, in the order of the meta network's hidden slices."""
    names = ["conv1", "conv2"]
    for i in range(N_RESIDUAL):
        names += [f"res{i}.conv_a", f"res{i}.conv_b"]
    return names + ["up0", "up1"]


class InstanceNorm(nn.Module):
    """Instance norm over H, W (eps 1e-5), with optional per-channel scale and shift."""

    def __init__(self, channels: int, affine: bool) -> None:
        super().__init__()
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.affine:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=1e-5)
        return F.instance_norm(x, eps=1e-5)


class PaddedConv(nn.Module):
    """Conv whose 'same' padding follows the net's padding mode; ``pad=0`` for unpadded convs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, mode: str, pad: int | None = None) -> None:
        super().__init__()
        self.pad = kernel // 2 if pad is None else pad
        self.reflect = mode == "reflect" and self.pad > 0
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=0 if self.reflect else self.pad, bias=bias)

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reflect:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return self.conv(x)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, config: NetConfig) -> None:
        super().__init__()
        pad = 0 if config.padding == "prepad" else None
        self.conv_a = PaddedConv(channels, channels, 3, 1, False, config.padding, pad)
        self.norm_a = InstanceNorm(channels, config.affine_norm)
        self.conv_b = PaddedConv(channels, channels, 3, 1, False, config.padding, pad)
        self.norm_b = InstanceNorm(channels, config.affine_norm)
        self.crop = 2 if config.padding == "prepad" else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        if self.crop:
            x = x[:, :, self.crop : -self.crop, self.crop : -self.crop]
        return x + y


class Upsampler(nn.Module):
    """x2 upsampling conv: 4x4 stride-2 transposed conv (pad 1), or nearest x2 then a 3x3 conv."""

    def __init__(self, c_in: int, c_out: int, config: NetConfig) -> None:
        super().__init__()
        self.nearest = config.upsample == "nearest"
        self.conv: PaddedConv | nn.ConvTranspose2d
        if self.nearest:
            self.conv = PaddedConv(c_in, c_out, 3, 1, False, config.padding)
        else:
            self.conv = nn.ConvTranspose2d(c_in, c_out, 4, 2, padding=1, bias=False)

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nearest:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x)


class TransformNet(nn.Module):
    def __init__(self, config: NetConfig | None = None, **kwargs) -> None:
        super().__init__()
        config = config or NetConfig(**kwargs)
        self.config = config
        b, mode, affine = config.base, config.padding, config.affine_norm
        self.conv0 = PaddedConv(3, b, 9, 1, True, mode)
        self.conv1 = PaddedConv(b, 2 * b, 3, 2, False, mode)
        self.norm1 = InstanceNorm(2 * b, affine)
        self.conv2 = PaddedConv(2 * b, 4 * b, 3, 2, False, mode)
        self.norm2 = InstanceNorm(4 * b, affine)
        for i in range(N_RESIDUAL):
            self.add_module(f"res{i}", ResidualBlock(4 * b, config))
        self.up0 = Upsampler(4 * b, 2 * b, config)
        self.norm_up0 = InstanceNorm(2 * b, affine)
        self.up1 = Upsampler(2 * b, b, config)
        self.norm_up1 = InstanceNorm(b, affine)
        self.conv_out = PaddedConv(b, 3, 9, 1, False, mode)
        if config.input_skip:
            self.skip = nn.Parameter(torch.zeros(3))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb * (1.0 / 127.5) - 1.0
        if self.config.padding == "prepad":
            x = F.pad(x, (PREPAD,) * 4, mode="replicate")
        x = torch.relu(self.conv0(x))
        x = torch.relu(self.norm1(self.conv1(x)))
        x = torch.relu(self.norm2(self.conv2(x)))
        for i in range(N_RESIDUAL):
            x = getattr(self, f"res{i}")(x)
        x = torch.relu(self.norm_up0(self.up0(x)))
        x = torch.relu(self.norm_up1(self.up1(x)))
        y = self.conv_out(x) * 127.5 + 127.5
        if self.config.input_skip:
            y = y + self.skip.view(1, 3, 1, 1) * (rgb - 127.5)
        return y if self.training else y.clamp(0.0, 255.0)

    def generated_parameter_names(self) -> list[str]:
        """Parameter names (as in named_parameters) of the 14 style-dependent conv weights."""
        names = [n for n, _ in self.named_parameters()]
        return [next(n for n in names if n.startswith(layer + ".") and n.endswith("weight")) for layer in generated_layer_names()]

    def generated_norm_parameter_names(self) -> list[tuple[str, str]]:
        """(scale, shift) parameter names of the affine instance norm after each of the 14 style-dependent convs, in
        the convs' order."""
        pairs = []
        for layer in generated_layer_names():
            prefix, _, conv = layer.rpartition(".")
            module = (prefix + "." if prefix else "") + NORM_AFTER[conv]
            pairs.append((f"{module}.weight", f"{module}.bias"))
        return pairs


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def macs(config: NetConfig, height: int = 256, width: int = 256) -> int:
    """Multiply-accumulates of one forward pass (convs only), counted by running hooks on a meta tensor."""
    net = TransformNet(config).to("meta").eval()
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
            total += output.numel() * k
        elif isinstance(module, nn.ConvTranspose2d):
            x = inputs[0]
            total += x.numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        net(torch.zeros(1, 3, height, width, device="meta"))
    for h in handles:
        h.remove()
    return total
