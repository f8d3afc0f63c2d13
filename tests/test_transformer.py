import pytest
import torch

from mobilestyle.transformer import NetConfig, TransformNet, count_parameters, generated_layer_names, macs


@pytest.mark.parametrize(("base", "params"), [(8, 112_056), (16, 440_432), (32, 1_746_144)])
def test_parameter_counts(base: int, params: int) -> None:
    net = TransformNet(base=base)
    assert count_parameters(net) == params
    if base == 8:
        assert params * 4 <= 449 * 1024  # the paper's 449 KB fp32


def test_johnson_variant_matches_metastyle_size() -> None:
    net = TransformNet(base=32, padding="reflect", upsample="nearest", affine_norm=True)
    assert abs(count_parameters(net) - 1.68e6) < 0.01e6


@pytest.mark.parametrize("padding", ["zero", "reflect", "prepad"])
@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_output_shape_and_range(padding: str, size: tuple[int, int]) -> None:
    net = TransformNet(base=8, padding=padding).eval()
    x = torch.rand(2, 3, *size) * 255
    y = net(x)
    assert y.shape == x.shape
    assert y.min() >= 0 and y.max() <= 255


def test_generated_layers_are_the_14_normed_convs() -> None:
    net = TransformNet()
    names = net.generated_parameter_names()
    assert len(names) == len(generated_layer_names()) == 14
    sizes = [net.get_parameter(n).numel() for n in names]
    assert sizes == [1152, 4608] + [9216] * 10 + [8192, 2048]
    # style-independent layers keep their own parameters
    assert net.conv0.conv.bias is not None and net.conv_out.conv.bias is None


def test_prepad_costs_more_compute() -> None:
    zero, prepad = macs(NetConfig(padding="zero")), macs(NetConfig(padding="prepad"))
    assert 0.7e9 < zero < 0.75e9
    assert prepad > zero * 1.25


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        NetConfig(base=12)
    with pytest.raises(ValueError):
        NetConfig(padding="circular")
