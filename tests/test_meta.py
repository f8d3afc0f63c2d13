import torch

from mobilestyle.meta import STATS_DIM, MetaNetwork
from mobilestyle.transformer import NetConfig, TransformNet


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


def test_affine_norm_meta_network_emits_norm_scales_per_style() -> None:
    torch.manual_seed(0)
    plain = MetaNetwork().eval()
    affine = MetaNetwork(NetConfig(affine_norm=True)).eval()
    missing, unexpected = affine.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("norm_heads.") for k in missing) and not unexpected
    stats = torch.rand(2, STATS_DIM) * 20
    content = torch.rand(2, 3, 48, 48) * 255
    # the norm heads start at the identity: the plain model's nets, unchanged
    assert torch.allclose(affine.stylize_each(content, stats), plain.stylize_each(content, stats), atol=1e-4)
    weights = affine.weights_from_code(affine.hidden_code(stats))
    assert len(weights) == 14 + 2 * 14 and weights["res1.norm_b.weight"].shape == (2, 32)
    # trained away from the identity, each style gets its own scales, baked into the emitted net
    with torch.no_grad():
        for head in affine.norm_heads:
            head.weight.normal_(0, 0.05)
    a, b = affine.emit(stats[:1]), affine.emit(stats[1:])
    assert a.config.affine_norm and not torch.equal(a.res1.norm_b.weight, b.res1.norm_b.weight)
    assert torch.allclose(a(content), affine.stylize(content, affine.params(stats[:1])), atol=1e-4)
    # the scales are generated, not style-independent parameters of the template net
    assert not any("norm" in n for n, _ in affine.net.named_parameters())


def test_input_skip_meta_network_emits_skip_gains_per_style() -> None:
    torch.manual_seed(0)
    plain = MetaNetwork().eval()
    skip = MetaNetwork(NetConfig(input_skip=True)).eval()
    missing, _ = skip.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["skip_head.bias", "skip_head.weight"]
    stats = torch.rand(2, STATS_DIM) * 20
    content = torch.rand(2, 3, 48, 48) * 255
    assert torch.allclose(skip.stylize_each(content, stats), plain.stylize_each(content, stats), atol=1e-4)  # gains start at 0
    with torch.no_grad():
        skip.skip_head.weight.normal_(0, 0.5)
    gains = skip.weights_from_code(skip.hidden_code(stats))["skip"]
    assert gains.shape == (2, 3) and not torch.equal(gains[0], gains[1])
    a = skip.emit(stats[:1])
    assert torch.allclose(a.skip, gains[0], atol=1e-5) and a.config.input_skip
    # the gains add the photo itself to the plain net's output
    expected = plain.emit(stats[:1]).train()(content) + gains[0].view(1, 3, 1, 1) * (content - 127.5)
    assert torch.allclose(a.train()(content), expected, atol=1e-3)
    assert "input_skip" not in NetConfig().to_dict() and NetConfig.from_dict(a.config.to_dict()) == a.config
