"""The export graph: same function as the TransformNet for every architecture, and convertible by every exporter."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

from mobilestyle.export.graph import (
    GRAPH_VERSION,
    SHORT_SUM,
    block_average,
    block_conv_weight,
    export_graph,
    pad2d,
    subpixel_weight_from_nearest,
    subpixel_weight_from_transposed,
)
from mobilestyle.export.verify import OWN_ERROR_FACTOR
from mobilestyle.transformer import NetConfig, TransformNet

MAX_ABS = 1e-3  # on the 0..255 scale


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny forwards: one thread avoids OpenMP's spin-wait collapse when the 2-core runner is shared."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _config_id(c: NetConfig) -> str:
    return f"b{c.base}-{c.padding}-{c.upsample}-{'affine' if c.affine_norm else 'plain'}{'-skip' if c.input_skip else ''}"


def _configs() -> list[NetConfig]:
    configs = []
    for base, padding, upsample, affine in itertools.product(
        (8, 16, 32), ("zero", "reflect", "prepad"), ("deconv", "nearest"), (False, True)
    ):
        try:
            configs.append(NetConfig(base, padding, upsample, affine))
        except ValueError:  # prepad needs deconv
            continue
    # the photo skip (train --input-skip) on each padding
    configs += [
        NetConfig(8, "zero", "deconv", False, True),
        NetConfig(8, "reflect", "nearest", True, True),
        NetConfig(8, "prepad", "deconv", False, True),
    ]
    return configs


def _net(config: NetConfig, seed: int = 0) -> TransformNet:
    torch.manual_seed(seed)
    net = TransformNet(config)
    with torch.no_grad():
        for module in net.modules():  # non-trivial affine norms, so their folding is exercised
            if getattr(module, "affine", False):
                module.weight.normal_(1.0, 0.3)
                module.bias.normal_(0.0, 0.3)
        net.conv0.conv.bias.normal_(0.0, 0.3)
        if config.input_skip:
            net.skip.copy_(torch.tensor([0.3, -0.2, 0.7]))
    return net.eval()


def _image(height: int, width: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed)) * 255.0


@pytest.mark.parametrize("config", _configs(), ids=_config_id)
def test_parity_every_config(config: NetConfig) -> None:
    """Against the float64 net, within 1e-3 or OWN_ERROR_FACTOR x PyTorch fp32's own error (export/verify.py's rule): a fixed 1e-3
    between two fp32 computations failed on AVX2 CPUs for 32-base nets (1.007e-3), whose fp32 error itself is ~1e-3."""
    net = _net(config)
    graph = export_graph(net)
    exact_net = copy.deepcopy(net).double()
    shapes = ((64, 48), (36, 68)) if config.base == 8 else ((64, 48),)  # sides: any multiple of 4
    for height, width in shapes:
        x = _image(height, width)
        with torch.no_grad():
            expected, got, exact = net(x), graph(x), exact_net(x.double())
        assert got.shape == expected.shape
        limit = max(MAX_ABS, OWN_ERROR_FACTOR * (expected.double() - exact).abs().max().item())
        assert (got.double() - exact).abs().max().item() <= limit


@pytest.mark.parametrize("config", [NetConfig(), NetConfig(8, "reflect", "nearest", True)], ids=["b8-zero", "b8-reflect-nearest-affine"])
def test_static_shapes_graph_block_averages_large_planes(config: NetConfig) -> None:
    """TFLite's graph (fixed sizes) averages planes over 128 x 128 in blocks before its norm means: same function."""
    net = _net(config)
    graph = export_graph(net, static_shapes=True)
    for height, width in ((264, 520), (516, 260)):  # half-resolution planes 132 x 260 / 258 x 130: blocks of 4 x 4, 2 x 2
        x = _image(height, width)
        with torch.no_grad():
            assert (graph(x) - net(x)).abs().max().item() <= MAX_ABS
    plane = torch.randn(1, 2, 258, 132)
    assert plane.shape[2] * plane.shape[3] > SHORT_SUM and block_average(plane).shape == (1, 2, 129, 33)
    assert torch.allclose(block_average(plane).mean(dim=(2, 3)), plane.mean(dim=(2, 3)), atol=1e-6)
    small = torch.randn(1, 2, 128, 128)
    assert block_average(small) is small


def test_graph_is_a_pure_function_of_the_weights() -> None:
    net = _net(NetConfig())
    graph = export_graph(net)
    assert isinstance(GRAPH_VERSION, int) and GRAPH_VERSION >= 1
    assert not graph.training
    assert all(not p.requires_grad for p in graph.parameters())
    before = {k: v.clone() for k, v in graph.state_dict().items()}
    with torch.no_grad():
        net.conv1.weight.mul_(2.0)  # the graph holds its own derived copies...
    assert all(torch.equal(before[k], v) for k, v in graph.state_dict().items())
    x = _image(32, 32)
    with torch.no_grad():  # ...and a rebuilt graph follows the new weights
        assert (export_graph(net)(x) - net(x)).abs().max().item() <= MAX_ABS


def test_derived_weights_match_reference_ops() -> None:
    """Each weight rewrite on its own against the PyTorch op it replaces."""
    torch.manual_seed(0)
    x = torch.randn(1, 5, 12, 16)
    w9 = torch.randn(4, 5, 9, 9)
    full = torch.nn.functional.conv2d(x, w9, padding=4)
    blocks = torch.nn.functional.conv2d(torch.nn.functional.pixel_unshuffle(x, 2), block_conv_weight(w9), padding=2)
    assert torch.allclose(torch.nn.functional.pixel_shuffle(blocks, 2), full, atol=1e-4)

    wt = torch.randn(5, 3, 4, 4)
    transposed = torch.nn.functional.conv_transpose2d(x, wt, stride=2, padding=1)
    subpixel = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(x, subpixel_weight_from_transposed(wt), padding=1), 2)
    assert torch.allclose(subpixel, transposed, atol=1e-4)

    w3 = torch.randn(3, 5, 3, 3)
    upsampled = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"), w3, padding=1)
    subpixel = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(x, subpixel_weight_from_nearest(w3), padding=1), 2)
    assert torch.allclose(subpixel, upsampled, atol=1e-4)


@pytest.mark.parametrize("mode,torch_mode", [("reflect", "reflect"), ("replicate", "replicate"), ("zero", "constant")])
def test_padding_in_plain_ops(mode: str, torch_mode: str) -> None:
    x = torch.randn(1, 2, 7, 9)
    for pad in (1, 4):
        assert torch.equal(pad2d(x, pad, mode), torch.nn.functional.pad(x, (pad,) * 4, mode=torch_mode))


# ------------------------------------------------------------------------------------------ converters
CONVERT_CONFIGS = [NetConfig(), NetConfig(8, "reflect", "nearest", True)]  # every rewrite: blocks, sub-pixel, slices, affine
CONVERT_IDS = ["b8-zero-deconv", "b8-reflect-nearest-affine"]
SIDE = 64


@pytest.fixture(scope="module", params=CONVERT_CONFIGS, ids=CONVERT_IDS)
def net_and_graph(request: pytest.FixtureRequest) -> tuple[TransformNet, torch.nn.Module]:
    net = _net(request.param)
    return net, export_graph(net)


def _reference(net: TransformNet) -> tuple[np.ndarray, np.ndarray]:
    x = _image(SIDE, SIDE)
    with torch.no_grad():
        return x.numpy(), net(x).numpy()


@pytest.mark.slow
def test_onnx_dynamo_converts(net_and_graph, tmp_path) -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from mobilestyle.export import onnx_format

    net, graph = net_and_graph
    path = tmp_path / "graph.onnx"
    path.write_bytes(onnx_format.FORMAT.convert(graph)["model.onnx"])  # torch.onnx.export(dynamo=True), dynamic H and W
    x, expected = _reference(net)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    assert np.abs(got - expected).max() <= MAX_ABS


@pytest.mark.slow
def test_litert_converts(net_and_graph, tmp_path) -> None:
    pytest.importorskip("litert_torch")
    from mobilestyle.export import tflite_format
    from mobilestyle.export.tflite_format import TfliteRunner

    net, _ = net_and_graph
    path = tmp_path / "graph.tflite"
    path.write_bytes(
        tflite_format.FORMAT.convert(export_graph(net, static_shapes=True), [SIDE], "fp32")["model.tflite"]
    )  # litert-torch, NHWC, signature size_64x64
    x, expected = _reference(net)
    got = TfliteRunner(path).run(x[0].transpose(1, 2, 0))
    assert np.abs(got - expected[0].transpose(1, 2, 0)).max() <= MAX_ABS


@pytest.mark.slow
def test_coremltools_converts(net_and_graph) -> None:
    ct = pytest.importorskip("coremltools")
    _, graph = net_and_graph
    traced = torch.jit.trace(graph, _image(SIDE, SIDE))
    model = ct.convert(
        traced,
        inputs=[ct.TensorType(name="image", shape=(1, 3, SIDE, SIDE))],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,  # pixel_(un)shuffle: iOS 16 / macOS 13 opsets
        compute_precision=ct.precision.FLOAT32,
        skip_model_load=True,
    )
    spec = model.get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"  # predictions need macOS: the spec is what Linux can check
