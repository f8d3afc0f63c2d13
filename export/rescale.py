"""fp16 guard: rescale the convs that feed instance norms so their outputs stay far inside fp16's range.

Instance norm divides each channel by its own standard deviation, so multiplying a conv's output
channel by any positive number leaves the net's output unchanged (up to the norm's eps). The meta
network emits weights of arbitrary scale: on a tiny-trained model the activations entering a norm reach
~4000, whose squares (1.6e7) overflow fp16 (max 65504) in a CoreML fp16 program. Normalizing every
such conv's output channels to a fixed weight norm bounds them by construction; the export parity check
(against the original net) shows the function is unchanged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mobilestyle.transformer import TransformNet, generated_layer_names

# 1.0: the CPU-trained default model's nets reach |x| <= 78 into a norm over the 33 eval styles (guard limit 128;
# 2.0 gave 147 and refused fp16), while smaller norms start to feel the norm's eps on tiny-trained nets.
CHANNEL_NORM = 1.0


def _output_channel_norms(weight: torch.Tensor, transposed: bool) -> torch.Tensor:
    dims = [d for d in range(weight.dim()) if d != (1 if transposed else 0)]
    return weight.pow(2).sum(dim=dims, keepdim=True).sqrt()


def normalize_norm_inputs(net: TransformNet, channel_norm: float = CHANNEL_NORM) -> TransformNet:
    """A copy of ``net`` whose 14 norm-fed convs have per-output-channel weight norm ``channel_norm``."""
    clone = copy.deepcopy(net).eval()
    with torch.no_grad():
        for layer in generated_layer_names():
            module = clone.get_submodule(layer)
            conv = getattr(module, "conv", module)
            weight = conv.weight  # a Conv2d, ConvTranspose2d or PaddedConv (its .weight is its conv's)
            assert isinstance(weight, torch.Tensor)
            transposed = isinstance(conv, nn.ConvTranspose2d)
            norms = _output_channel_norms(weight, transposed).clamp_min(1e-12)
            weight.mul_(channel_norm / norms)
    return clone
