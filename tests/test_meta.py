import torch

from mobilestyle.meta import STATS_DIM, MetaNetwork
from mobilestyle.transformer import TransformNet


def test_emitted_net_equals_functional_call() -> None:
    torch.manual_seed(0)
    meta = MetaNetwork().eval()
    stats = torch.rand(1, STATS_DIM) * 20
    content = torch.rand(2, 3, 64, 48) * 255
    functional = meta.stylize(content, meta.params(stats))
    standalone = meta.emit(stats)
    assert isinstance(standalone, TransformNet)
    assert torch.allclose(functional, standalone(content), atol=1e-4)


def test_different_styles_give_different_nets() -> None:
    torch.manual_seed(0)
    meta = MetaNetwork()
    a, b = meta.emit(torch.rand(1, STATS_DIM)), meta.emit(torch.rand(1, STATS_DIM) * 50)
    assert not torch.equal(a.res0.conv_a.conv.weight, b.res0.conv_a.conv.weight)
    assert torch.equal(a.conv0.conv.weight, b.conv0.conv.weight)  # style-independent


def test_hidden_code_is_14_slices_of_128() -> None:
    meta = MetaNetwork()
    code = meta.hidden_code(torch.rand(3, STATS_DIM))
    assert code.shape == (3, 1792)
    weights = meta.weights_from_code(code)
    assert len(weights) == 14
    assert weights["res2.conv_a.conv.weight"].shape == (3, 32, 32, 3, 3)


def test_gradients_reach_meta_parameters() -> None:
    meta = MetaNetwork().train()
    out = meta.stylize(torch.rand(1, 3, 32, 32) * 255, meta.params(torch.rand(1, STATS_DIM)))
    out.mean().backward()
    assert meta.hidden.weight.grad is not None and meta.hidden.weight.grad.abs().sum() > 0
    assert meta.net.conv0.conv.weight.grad is not None
    # only the heads, the hidden FC and the two style-independent convs are trainable
    names = {n for n, _ in meta.named_parameters()}
    assert names >= {"net.conv0.conv.weight", "net.conv0.conv.bias", "net.conv_out.conv.weight"}
    assert not any(n.startswith("net.res") for n in names)
