"""The export graph: a TransformNet rewritten into the form the mobile runtimes run fastest.

``export_graph(net)`` returns a module computing the same function as ``net.eval()`` (parity within
1e-3 on the 0..255 scale, tested for every NetConfig) that every exporter converts. What changes, and why
(LiteRT/XNNPACK on CPU; measured in docs/padding.md and docs/bench.md):

- Full-resolution work runs at half resolution on space-to-depth tensors (4x the channels): the 9x9
  convs 3->b and b->3 have too few channels for XNNPACK's GEMM kernels, and as 5x5 convs 12->4b and
  4b->12 on 2x2 pixel blocks they fill them. conv1 (3x3 stride 2) then reads the blocks directly as a
  2x2 conv, and the last upsampler's output never leaves block form until the final depth-to-space.
- Transposed convs (4x4, stride 2, pad 1) and nearest x2 + 3x3 conv become one 3x3 conv producing the
  four output phases as channels (sub-pixel convolution) followed by depth-to-space.
- Instance norm is written as mean / subtract / square / mean / rsqrt / multiply over H, W, which the
  converters keep channels-last and XNNPACK runs delegated (the built-in decomposition added a pair of
  transposes around each of the 14 norms). Each mean is taken over W, then over H: LiteRT's one-step
  MEAN over H x W accumulates 16,384 terms per channel at 256² in fp32, and its rounding put the last
  norm's variance ~7e-6 off and the .tflite output up to 2e-3 off PyTorch (6.5e-2 at 1024²); row means
  first (two sums of 128 terms) bring LiteRT fp32 to <= 6e-4 at the same speed. With static shapes
  (TFLite), planes over 128 x 128 are first averaged in blocks of up to 8 x 8 (docs/export.md).
- Reflection and replication padding are slices + concatenations (MIRROR_PAD is not delegated).
- The input scaling (x / 127.5 - 1) and the output scaling (y * 127.5 + 127.5) are folded into conv0's
  and conv_out's weights; only ``x - 127.5`` stays as an op (it keeps zero padding exact).

Every derived weight is computed here in Python when the module is built and registered as a parameter
(a plain constant in each converted file); the traced graph does no arithmetic on weights. The module is a
pure function of the net's weights: call ``export_graph`` again for new weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilestyle.transformer import N_RESIDUAL, PREPAD, InstanceNorm, TransformNet

GRAPH_VERSION: int = 3
"""Bumped whenever the exported form changes (conversion caches key on it)."""

EPS = 1e-5
HALF_RANGE = 127.5
SHORT_SUM = 128 * 128
"""Planes larger than this are block-averaged before their instance-norm means when shapes are static."""


# ----------------------------------------------------------------------------------------------- padding
def _rows(x: torch.Tensor, dim: int, start: int, stop: int | None) -> torch.Tensor:
    """x[start:stop] along ``dim`` with constant (possibly negative) bounds: no shape arithmetic in the traced graph."""
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, stop)
    return x[tuple(index)]


def replicate_rows(x: torch.Tensor, top: int, bottom: int, dim: int) -> torch.Tensor:
    """Replication padding of ``top`` / ``bottom`` entries along ``dim`` with broadcast multiplies + one concat."""
    parts = []
    if top:
        parts.append(_rows(x, dim, 0, 1) * _ones_along(dim, top, x))
    parts.append(x)
    if bottom:
        parts.append(_rows(x, dim, -1, None) * _ones_along(dim, bottom, x))
    return torch.cat(parts, dim=dim) if len(parts) > 1 else x


def _ones_along(dim: int, count: int, like: torch.Tensor) -> torch.Tensor:
    shape = [1] * like.dim()
    shape[dim] = count
    return torch.ones(shape, dtype=like.dtype, device=like.device)


def reflect_rows(x: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """Reflection padding (edge not repeated) along ``dim``: single-row slices joined by small concats."""
    top = [_rows(x, dim, i, i + 1) for i in range(pad, 0, -1)]
    bottom = [_rows(x, dim, -1 - i, -i) for i in range(1, pad + 1)]
    top_block = top[0] if pad == 1 else torch.cat(top, dim=dim)
    bottom_block = bottom[0] if pad == 1 else torch.cat(bottom, dim=dim)
    return torch.cat([top_block, x, bottom_block], dim=dim)


def pad2d(x: torch.Tensor, pad: int, mode: str) -> torch.Tensor:
    """Pad H and W by ``pad`` on every side: "zero", "reflect" or "replicate", in delegated ops."""
    if pad == 0:
        return x
    if mode == "zero":
        return F.pad(x, (pad, pad, pad, pad))
    if mode == "reflect":
        return reflect_rows(reflect_rows(x, pad, 2), pad, 3)
    if mode == "replicate":
        return replicate_rows(replicate_rows(x, pad, pad, 2), pad, pad, 3)
    raise ValueError(f"unknown padding mode {mode!r}")


def pad_top_left(x: torch.Tensor, mode: str) -> torch.Tensor:
    """One row above and one column left of ``x``: zeros, or copies of the first row / column."""
    if mode == "zero":
        return F.pad(x, (1, 0, 1, 0))
    return replicate_rows(replicate_rows(x, 1, 0, 2), 1, 0, 3)


# --------------------------------------------------------------------------------- derived conv weights
def _phase_taps(kernel: int, offset: int) -> list[tuple[int, int, int, int]]:
    """(output phase p, kernel index u, block tap t, input phase a) with p + u + offset = 2 t + a."""
    return [(p, u, (p + u + offset) // 2, (p + u + offset) % 2) for p in range(2) for u in range(kernel)]


@torch.no_grad()
def block_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """A stride-1 k x k conv on a padded image as a valid (k//2+1)-square conv on its 2x2 blocks.

    ``weight`` (O, C, k, k) -> (4 O, 4 C, k//2 + 1, k//2 + 1); channels follow pixel_(un)shuffle:
    channel c of phase (a, b) is 4 c + 2 a + b.
    """
    out_ch, in_ch, k, _ = weight.shape
    taps = k // 2 + 1
    result = weight.new_zeros(out_ch, 4, in_ch, 4, taps, taps)
    for p, u, t, a in _phase_taps(k, 0):
        for q, v, s, b in _phase_taps(k, 0):
            result[:, 2 * p + q, :, 2 * a + b, t, s] += weight[:, :, u, v]
    return result.reshape(4 * out_ch, 4 * in_ch, taps, taps)


@torch.no_grad()
def strided_block_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 stride-2 pad-1 conv as a valid 2x2 conv on 2x2 blocks padded by one block top and left.

    ``weight`` (O, C, 3, 3) -> (O, 4 C, 2, 2).
    """
    out_ch, in_ch, _, _ = weight.shape
    result = weight.new_zeros(out_ch, in_ch, 4, 2, 2)
    for u in range(3):
        t, a = (u + 1) // 2, (u + 1) % 2
        for v in range(3):
            s, b = (v + 1) // 2, (v + 1) % 2
            result[:, :, 2 * a + b, t, s] += weight[:, :, u, v]
    return result.reshape(out_ch, 4 * in_ch, 2, 2)


@torch.no_grad()
def subpixel_weight_from_transposed(weight: torch.Tensor) -> torch.Tensor:
    """ConvTranspose2d(k=4, s=2, p=1) weight (C, O, 4, 4) -> a 3x3 pad-1 conv weight (4 O, C, 3, 3) whose
    output channels are the four output phases (pixel_shuffle order)."""
    in_ch, out_ch, _, _ = weight.shape
    result = weight.new_zeros(out_ch, 4, in_ch, 3, 3)
    for p in range(2):
        for t in range(3):
            u = p + 3 - 2 * t
            if not 0 <= u < 4:
                continue
            for q in range(2):
                for s in range(3):
                    v = q + 3 - 2 * s
                    if 0 <= v < 4:
                        result[:, 2 * p + q, :, t, s] = weight[:, :, u, v].t()
    return result.reshape(4 * out_ch, in_ch, 3, 3)


@torch.no_grad()
def subpixel_weight_from_nearest(weight: torch.Tensor) -> torch.Tensor:
    """nearest x2 then a 3x3 pad-1 conv (O, C, 3, 3) -> one 3x3 conv on the low-resolution input (4 O, C, 3, 3)."""
    out_ch, in_ch, _, _ = weight.shape
    result = weight.new_zeros(out_ch, 4, in_ch, 3, 3)
    for p in range(2):
        for u in range(3):
            t = (p + u - 1) // 2 + 1
            for q in range(2):
                for v in range(3):
                    s = (q + v - 1) // 2 + 1
                    result[:, 2 * p + q, :, t, s] += weight[:, :, u, v]
    return result.reshape(4 * out_ch, in_ch, 3, 3)


def _param(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone().contiguous(), requires_grad=False)


# ------------------------------------------------------------------------------------------------ norm
def block_average(x: torch.Tensor) -> torch.Tensor:
    """Static shapes only: ``x`` averaged over blocks of up to 8 x 8 when its plane is larger than SHORT_SUM, so
    that the means after it sum few terms each (exact in real arithmetic: the blocks tile the plane)."""
    height, width = int(x.shape[2]), int(x.shape[3])
    if height * width <= SHORT_SUM:
        return x
    block_h = next(k for k in (8, 4, 2, 1) if height % k == 0)
    block_w = next(k for k in (8, 4, 2, 1) if width % k == 0)
    return F.avg_pool2d(x, (block_h, block_w)) if block_h * block_w > 1 else x


class PlainInstanceNorm(nn.Module):
    """Instance norm over H, W in plain ops; with ``groups`` > 1 it normalises a pixel_unshuffle'd tensor
    as the full-resolution one (statistics shared by each channel's ``groups`` phases). ``static_shapes``:
    the graph is traced at fixed sizes (TFLite), so large planes may be block-averaged first."""

    phase_mean: torch.Tensor

    def __init__(self, norm: InstanceNorm, channels: int, groups: int = 1, static_shapes: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.groups = groups
        self.static_shapes = static_shapes
        if groups > 1:  # block-averaging matrix: mean over the phases of a channel, as a 1x1 conv
            eye = torch.eye(channels // groups).repeat_interleave(groups, 0).repeat_interleave(groups, 1) / groups
            self.register_buffer("phase_mean", eye.reshape(channels, channels, 1, 1))
        self.affine = norm.affine
        if norm.affine:
            self.weight = _param(norm.weight.repeat_interleave(groups).reshape(1, -1, 1, 1))
            self.bias = _param(norm.bias.repeat_interleave(groups).reshape(1, -1, 1, 1))

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        if self.static_shapes:
            x = block_average(x)
        mean = x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)  # short fp32 sums (module docstring)
        return F.conv2d(mean, self.phase_mean) if self.groups > 1 else mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self._mean(x)
        y = centred * torch.rsqrt(self._mean(centred * centred) + EPS)
        return self._affine(y)

    def _affine(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.weight + self.bias if self.affine else y

    def forward_with_stats(
        self, x: torch.Tensor, given_mean: torch.Tensor, given_var: torch.Tensor, use_given: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalise with ``use_given`` (0 or 1, 1x1x1x1) x the given statistics + (1 - use_given) x its own;
        also returns its own mean and variance (1 x C x 1 x 1 each)."""
        mean = self._mean(x)
        var = self._mean((x - mean) * (x - mean))
        used_mean = mean + use_given * (given_mean - mean)
        used_var = var + use_given * (given_var - var)
        return self._affine((x - used_mean) * torch.rsqrt(used_var + EPS)), mean, var


class NormStatsIO:
    """One call's instance-norm statistics: read from ``given`` (1 x K: each norm's C means, then its C variances,
    in call order) and collected from every norm's own; see ``ExportGraph.forward``."""

    def __init__(self, given: torch.Tensor, use_given: torch.Tensor) -> None:
        self.given = given
        self.use_given = use_given.reshape(1, 1, 1, 1)
        self.offset = 0
        self.seen: list[torch.Tensor] = []

    def apply(self, norm: PlainInstanceNorm, x: torch.Tensor) -> torch.Tensor:
        c, start = norm.channels, self.offset
        self.offset += 2 * c
        given_mean = self.given[:, start : start + c].reshape(1, c, 1, 1)
        given_var = self.given[:, start + c : start + 2 * c].reshape(1, c, 1, 1)
        y, mean, var = norm.forward_with_stats(x, given_mean, given_var, self.use_given)
        self.seen += [mean.reshape(1, c), var.reshape(1, c)]
        return y

    def collected(self) -> torch.Tensor:
        return torch.cat(self.seen, dim=1)


# ----------------------------------------------------------------------------------------------- graph
class ExportGraph(nn.Module):
    """The TransformNet function in export form (see the module docstring). Input and output: NCHW 0..255.
    ``static_shapes``: the converter traces fixed sizes (TFLite); ONNX and CoreML keep H and W free."""

    def __init__(self, net: TransformNet, static_shapes: bool = False) -> None:
        super().__init__()
        config = net.config
        self.config = config  # part of the conversion-cache key (nets of equal tensor shapes differ in padding)
        self.static_shapes = static_shapes
        self.padding = config.padding
        self.prepad = config.padding == "prepad"
        self.nearest = config.upsample == "nearest"
        # conv padding mode of the per-layer convs ("prepad" nets zero-pad conv0 / conv1 / conv2 / conv_out)
        self.mode = "reflect" if config.padding == "reflect" else "zero"
        base = config.base

        # conv0 on 2x2 blocks, input scaling folded in: conv(x / 127.5 - 1) = conv'(x - 127.5)
        self.conv0_weight = _param(block_conv_weight(net.conv0.conv.weight / HALF_RANGE))
        assert net.conv0.conv.bias is not None
        self.conv0_bias = _param(net.conv0.conv.bias.repeat_interleave(4))
        self.conv1_weight = _param(strided_block_conv_weight(net.conv1.weight))
        self.norm1 = PlainInstanceNorm(net.norm1, 2 * base, static_shapes=static_shapes)
        self.conv2_weight = _param(net.conv2.weight)
        self.norm2 = PlainInstanceNorm(net.norm2, 4 * base, static_shapes=static_shapes)
        for i in range(N_RESIDUAL):
            block = getattr(net, f"res{i}")
            self.register_parameter(f"res{i}_a_weight", _param(block.conv_a.weight))
            self.add_module(f"res{i}_norm_a", PlainInstanceNorm(block.norm_a, 4 * base, static_shapes=static_shapes))
            self.register_parameter(f"res{i}_b_weight", _param(block.conv_b.weight))
            self.add_module(f"res{i}_norm_b", PlainInstanceNorm(block.norm_b, 4 * base, static_shapes=static_shapes))
        subpixel = subpixel_weight_from_nearest if self.nearest else subpixel_weight_from_transposed
        self.up0_weight = _param(subpixel(net.up0.weight))
        self.norm_up0 = PlainInstanceNorm(net.norm_up0, 2 * base, static_shapes=static_shapes)
        self.up1_weight = _param(subpixel(net.up1.weight))
        self.norm_up1 = PlainInstanceNorm(net.norm_up1, 4 * base, groups=4, static_shapes=static_shapes)
        # conv_out on 2x2 blocks, output scaling folded in: conv(x) * 127.5 + 127.5
        self.conv_out_weight = _param(block_conv_weight(net.conv_out.weight * HALF_RANGE))
        self.conv_out_bias = _param(torch.full((12,), HALF_RANGE))
        # input_skip: + skip * (photo - 127.5), in 2x2-block form (channel c's four phases are 4c..4c+3)
        self.skip_gains = _param(net.skip.detach().repeat_interleave(4).view(1, 12, 1, 1)) if config.input_skip else None

    def _upsample(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Sub-pixel form of the x2 upsampling conv; the output stays in 2x2-block (pixel_unshuffle) form."""
        if self.nearest and self.mode == "reflect":  # reflection of the upsampled image = replication here
            return F.conv2d(pad2d(x, 1, "replicate"), weight)
        return F.conv2d(x, weight, padding=1)

    @staticmethod
    def _norm(norm: PlainInstanceNorm, x: torch.Tensor, io: NormStatsIO | None) -> torch.Tensor:
        return norm(x) if io is None else io.apply(norm, x)

    def _residual(self, x: torch.Tensor, i: int, io: NormStatsIO | None = None) -> torch.Tensor:
        norm_a: PlainInstanceNorm = getattr(self, f"res{i}_norm_a")
        norm_b: PlainInstanceNorm = getattr(self, f"res{i}_norm_b")
        if self.prepad:
            y = torch.relu(self._norm(norm_a, F.conv2d(x, getattr(self, f"res{i}_a_weight")), io))
            y = self._norm(norm_b, F.conv2d(y, getattr(self, f"res{i}_b_weight")), io)
            return x[:, :, 2:-2, 2:-2] + y
        y = torch.relu(self._norm(norm_a, F.conv2d(pad2d(x, 1, self.mode), getattr(self, f"res{i}_a_weight")), io))
        y = self._norm(norm_b, F.conv2d(pad2d(y, 1, self.mode), getattr(self, f"res{i}_b_weight")), io)
        return x + y

    def norm_stats_length(self) -> int:
        """K: the length of the statistics vector ``forward`` takes and returns (2 x the channels of every norm)."""
        return sum(2 * m.channels for m in self.modules() if isinstance(m, PlainInstanceNorm))

    def forward(self, rgb: torch.Tensor, io: NormStatsIO | None = None) -> torch.Tensor:
        """NCHW 0..255 -> NCHW 0..255. With ``io`` every instance norm reads and records statistics (NormStatsGraph)."""
        x = rgb - HALF_RANGE
        if self.prepad:
            x = pad2d(x, PREPAD, "replicate")
        if self.mode == "zero":  # 4 zero pixels around the image = 2 zero blocks around its 2x2 blocks
            x = F.conv2d(F.pixel_unshuffle(x, 2), self.conv0_weight, self.conv0_bias, padding=2)
        else:
            x = F.conv2d(F.pixel_unshuffle(pad2d(x, 4, self.mode), 2), self.conv0_weight, self.conv0_bias)
        x = torch.relu(x)
        x = F.conv2d(pad_top_left(x, "replicate" if self.mode == "reflect" else "zero"), self.conv1_weight)
        x = torch.relu(self._norm(self.norm1, x, io))
        x = torch.relu(self._norm(self.norm2, F.conv2d(pad2d(x, 1, self.mode), self.conv2_weight, stride=2), io))
        for i in range(N_RESIDUAL):
            x = self._residual(x, i, io)
        x = torch.relu(self._norm(self.norm_up0, F.pixel_shuffle(self._upsample(x, self.up0_weight), 2), io))
        x = torch.relu(self._norm(self.norm_up1, self._upsample(x, self.up1_weight), io))
        if self.mode == "reflect":
            x = F.pixel_unshuffle(pad2d(F.pixel_shuffle(x, 2), 4, "reflect"), 2)
            y = F.conv2d(x, self.conv_out_weight, self.conv_out_bias)
        else:
            y = F.conv2d(x, self.conv_out_weight, self.conv_out_bias, padding=2)
        if self.skip_gains is not None:
            y = y + self.skip_gains * F.pixel_unshuffle(rgb - HALF_RANGE, 2)
        return F.pixel_shuffle(y.clamp(0.0, 255.0), 2)


class NormStatsGraph(nn.Module):
    """The export graph with its instance-norm statistics as an input and an output, for whole photos in tiles on
    a runtime: (image, norm_stats 1 x K, use_given 1 x 1) -> (stylized, own norm_stats 1 x K). Pass 1: the photo
    downscaled to the file's side with ``use_given`` 0 gives the statistics; pass 2: every tile with them and
    ``use_given`` 1 is normalised as the whole photo (mobilestyle.controls.tiles does the same in PyTorch)."""

    def __init__(self, graph: ExportGraph) -> None:
        super().__init__()
        self.net = graph  # not "graph": torch.export's GraphModule has an attribute of that name
        self.length = graph.norm_stats_length()

    def forward(self, image: torch.Tensor, norm_stats: torch.Tensor, use_given: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        io = NormStatsIO(norm_stats, use_given)
        stylized = self.net(image, io)
        return stylized, io.collected()


def export_graph(net: TransformNet, static_shapes: bool = False) -> nn.Module:
    """``net`` (put in eval mode) as an ExportGraph: same outputs, the form mobile runtimes run fastest.
    ``static_shapes=True`` for converters that trace fixed sizes (TFLite): it may add block averages."""
    return ExportGraph(net.eval(), static_shapes).eval()
