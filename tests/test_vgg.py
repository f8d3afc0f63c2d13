from pathlib import Path

import pytest
import torch

from mobilestyle.errors import MobilestyleError
from mobilestyle.vgg import TAP_CHANNELS, VGGEncoder, load_vgg_state, resolve_weights, style_statistics


def test_shared_weights_give_expected_feature_shapes(vgg_weights: Path) -> None:
    vgg = VGGEncoder.from_weights(vgg_weights)
    feats = vgg(torch.rand(1, 3, 64, 64) * 255)
    for i, (tap, channels) in enumerate(TAP_CHANNELS.items()):
        assert feats[tap].shape == (1, channels, 64 >> i, 64 >> i)
    assert style_statistics(feats).shape == (1, 1920)
    assert all(not p.requires_grad for p in vgg.parameters())


def test_requested_taps_equal_the_full_pass_and_skip_the_deeper_convs(vgg_weights: Path) -> None:
    vgg = VGGEncoder.from_weights(vgg_weights)
    image = torch.rand(2, 3, 64, 64) * 255
    full = vgg(image)
    ran: list[str] = []
    hooks = [conv.register_forward_hook(lambda module, args, out, name=name: ran.append(name)) for name, conv in vgg.layers.items()]
    content = vgg(image, taps=("relu2_2", "relu3_3"))
    for hook in hooks:
        hook.remove()
    assert sorted(content) == ["relu2_2", "relu3_3"]
    assert all(torch.equal(content[tap], full[tap]) for tap in content)
    assert ran[-1] == "conv3_3" and not any(name.startswith("conv4") for name in ran)
    # channels-last (shen-fast's layout) gives the same features to float rounding
    last = VGGEncoder.from_weights(vgg_weights).to(memory_format=torch.channels_last)(image)
    assert all(torch.allclose(last[tap], full[tap], rtol=1e-4, atol=1e-3 * float(full[tap].abs().max())) for tap in full)
    with pytest.raises(ValueError, match="not in this encoder"):
        VGGEncoder.from_weights(vgg_weights, taps=("relu1_2",))(image, taps=("relu3_3",))


def test_fp16_partial_weights_also_load(shared: Path) -> None:
    path = shared / "weights" / "vgg16_caffe_features_to_relu4_3_fp16.pth"
    if not path.exists():
        pytest.skip("fp16 copy not present")
    assert len(VGGEncoder(load_vgg_state(path)).layers) == 10


def test_caffe_preprocessing_is_bgr_mean_subtracted(vgg_weights: Path) -> None:
    vgg = VGGEncoder.from_weights(vgg_weights, taps=("relu1_2",))
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[:, 0] = 200.0  # red
    bgr = vgg.preprocess(rgb)
    assert torch.allclose(bgr[0, :, 0, 0], torch.tensor([-103.939, -116.779, 200 - 123.68]))


def test_resolution_order(tmp_path: Path, vgg_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MOBILESTYLE_VGG16", str(vgg_weights))
    assert resolve_weights(None) == vgg_weights
    assert resolve_weights(vgg_weights) == vgg_weights
    monkeypatch.delenv("MOBILESTYLE_VGG16")
    with pytest.raises(MobilestyleError, match="VGG-16 weights not found"):
        resolve_weights(None, allow_download=False)
    cached = tmp_path / "cache" / "mobilestyle" / "vgg16-00b39a1b.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert resolve_weights(None, allow_download=False) == cached


def test_missing_and_corrupt_weights_are_clear_errors(tmp_path: Path, vgg_weights: Path) -> None:
    with pytest.raises(MobilestyleError, match="not found"):
        resolve_weights(tmp_path / "nope.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(vgg_weights.read_bytes()[:100_000])
    with pytest.raises(MobilestyleError, match="unreadable or corrupt"):
        load_vgg_state(corrupt)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(MobilestyleError, match="lack conv1_1"):
        load_vgg_state(wrong)
