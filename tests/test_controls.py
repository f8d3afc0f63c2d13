"""Issue 14's controls: mixing, colours, detail, random textures, tiles, refine (mobilestyle/controls)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mobilestyle.controls.colors import PreserveColors, preserve_colors_array, ycbcr
from mobilestyle.controls.detail import KeepDetail, gaussian_kernel, keep_detail_array, luma_detail
from mobilestyle.controls.mixing import mix_nets, mix_weights, net_from_code, parse_mix
from mobilestyle.controls.noise import StylePrior, random_net
from mobilestyle.controls.refine import refine_net, refine_settings
from mobilestyle.controls.tiles import fixed_norm_net, norm_statistics, stylize_tiled
from mobilestyle.data import list_images
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import export, open_model, read_metadata
from mobilestyle.export.api import _export_form
from mobilestyle.export.graph import ExportGraph
from mobilestyle.export.templates import TemplateCache
from mobilestyle.export.verify import parity_image
from mobilestyle.meta import STATS_DIM, MetaNetwork
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder
from tests.conftest import run_cli
from tests.test_export import graph_cache


@pytest.fixture(scope="module")
def meta() -> MetaNetwork:
    torch.manual_seed(0)
    return MetaNetwork(head_gain=1.0).eval()


def _stats(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, STATS_DIM, generator=generator) * 50


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return parity_image(height, width, seed)


def _run(net: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net.eval()(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()


# ------------------------------------------------------------------------------------------------- mixing
def test_parse_mix() -> None:
    assert parse_mix("0.3", 2) == pytest.approx([0.7, 0.3])
    assert parse_mix("0.2,0.3,0.5", 3) == pytest.approx([0.2, 0.3, 0.5])
    assert parse_mix("1,1", 2) == pytest.approx([0.5, 0.5])
    for bad, n in (("1.5", 2), ("0.5", 3), ("a", 2), ("-1,2", 2), ("0,0", 2), ("0.5", 1)):
        with pytest.raises(MobilestyleError):
            parse_mix(bad, n)


def test_mix_endpoints_and_linearity(meta: MetaNetwork) -> None:
    stats = _stats(2)
    photo = _photo(64, 64)
    alone = _run(meta.emit(stats[:1]), photo)
    for space in ("hidden", "weights", "pre-relu", "statistics"):
        assert np.abs(_run(mix_nets(meta, stats, [1.0, 0.0], space), photo) - alone).max() < 1e-3, space
    # heads are linear: mixing hidden codes (after the ReLU) = mixing the emitted weights
    hidden, weights = mix_nets(meta, stats, [0.6, 0.4], "hidden"), mix_nets(meta, stats, [0.6, 0.4], "weights")
    for (name, a), b in zip(hidden.state_dict().items(), weights.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    # a real mix differs from both ends
    middle = _run(hidden, photo)
    assert np.abs(middle - alone).mean() > 0.1
    # net_from_code reproduces emit
    code = meta.hidden_code(stats[1:])
    assert np.abs(_run(net_from_code(meta, code), photo) - _run(meta.emit(stats[1:]), photo)).max() < 1e-3


def test_mix_weights_is_the_parameter_mean() -> None:
    torch.manual_seed(1)
    a, b = TransformNet(), TransformNet()
    mixed = mix_weights([a, b], [3, 1])
    assert torch.allclose(mixed.conv1.weight, 0.75 * a.conv1.weight + 0.25 * b.conv1.weight)


# ------------------------------------------------------------------------------------------------- colours
def test_preserve_colors_keeps_chroma_and_takes_luma() -> None:
    torch.manual_seed(2)
    net = TransformNet().eval()
    photo = _photo(96, 128)
    stylized = torch.from_numpy(_run(net, photo)).permute(2, 0, 1)[None]
    out = torch.from_numpy(_run(PreserveColors(net), photo)).permute(2, 0, 1)[None]
    source = torch.from_numpy(photo).permute(2, 0, 1)[None]
    yo, ys, yp = ycbcr(out), ycbcr(stylized), ycbcr(source)
    inside = ((out > 0.5) & (out < 254.5)).all(1, keepdim=True)  # where the clamp did not act
    assert inside.float().mean() > 0.5
    chroma_error = (yo[:, 1:] - yp[:, 1:]).abs()[inside.expand(-1, 2, -1, -1)]
    assert float(chroma_error.max()) < 0.01
    assert float((yo[:, :1] - ys[:, :1]).abs()[inside].max()) < 0.01
    assert float((ys[:, 1:] - yp[:, 1:]).abs().mean()) > 5  # the net alone does change the colours
    # the array version is the same function
    assert np.abs(preserve_colors_array(photo, _run(net, photo)) - _run(PreserveColors(net), photo)).max() < 1e-3


def test_export_sees_the_net_inside_the_wrapper() -> None:
    """export() converts PreserveColors as it is, with the TransformNet inside in its fast export form (a copy)."""
    net = TransformNet()
    wrapped = PreserveColors(net)
    assert wrapped.config == net.config and wrapped.export_metadata == {"preserve_colors": "ycbcr-bt601"}
    form = _export_form(wrapped, static_shapes=False)
    assert isinstance(form, PreserveColors) and isinstance(form.net, ExportGraph) and wrapped.net is net
    photo = _photo(64, 96)
    assert np.abs(_run(form, photo) - _run(wrapped, photo)).max() < 1e-2


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "precision"), [("onnx", "fp32"), ("tflite", "fp16")])
def test_preserve_colors_export_keeps_chroma(tmp_path, tmp_path_factory, fmt, precision) -> None:
    torch.manual_seed(3)
    net = TransformNet().eval()
    (record,) = export(
        PreserveColors(net),
        name="keep",
        formats=[fmt],
        sizes=[128],
        precision=precision,
        out_dir=tmp_path,
        cache=TemplateCache(graph_cache(tmp_path_factory)),
    )
    assert record.verified and record.precision == precision
    metadata = read_metadata(record.path)
    assert metadata["preserve_colors"] == "ycbcr-bt601" and metadata["arch"]["base"] == 8
    photo = _photo(128, 128)
    got = open_model(record.path, threads=1).run(photo)
    assert np.abs(got - preserve_colors_array(photo, _run(net, photo))).max() < (1e-2 if precision == "fp32" else 6)


# ------------------------------------------------------------------------------------------------- detail
def test_keep_detail_adds_the_photos_luma_detail() -> None:
    torch.manual_seed(5)
    net = TransformNet().eval()
    flat = np.full((40, 56, 3), (90.0, 140.0, 60.0), np.float32)
    # a flat photo has no detail, also at the borders (the blur is normalised there)
    assert np.abs(_run(KeepDetail(net, 1.0), flat) - _run(net, flat).clip(0, 255)).max() < 1e-3
    photo = _photo(96, 128)
    plain, kept = _run(net, photo), _run(KeepDetail(net, 0.5), photo)
    inside = ((plain > 1) & (plain < 254) & (kept > 0.5) & (kept < 254.5)).all(-1)
    added = (kept - plain)[inside]
    assert np.abs(added - added[:, :1]).max() < 1e-3  # the same on R, G and B: luma only
    rgb = torch.from_numpy(photo).permute(2, 0, 1)[None]
    detail = luma_detail(rgb, gaussian_kernel(1.0))[0, 0].numpy()
    assert np.abs(added[:, 0] - 0.5 * detail[inside]).max() < 1e-3
    assert abs(float(detail.mean())) < 1 and float(np.abs(detail).mean()) > 5  # a high-pass of a textured photo
    assert np.abs(keep_detail_array(photo, plain, 0.5) - kept).max() < 1e-3  # the array version is the same function
    wrapped = PreserveColors(KeepDetail(net, 0.5))
    assert wrapped.config == net.config
    with pytest.raises(ValueError):
        KeepDetail(net, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "precision"), [("onnx", "fp32"), ("tflite", "fp16")])
def test_keep_detail_export(tmp_path, tmp_path_factory, fmt, precision) -> None:
    """Detail inside the colour wrapper: both in the file and its metadata; another amount is another graph."""
    torch.manual_seed(6)
    net = TransformNet().eval()
    photo = _photo(128, 128)
    cache = TemplateCache(graph_cache(tmp_path_factory))
    for amount in (0.5, 1.0):
        (record,) = export(
            KeepDetail(net, amount),
            name=f"detail{amount}",
            formats=[fmt],
            sizes=[128],
            precision=precision,
            out_dir=tmp_path,
            cache=cache,
        )
        assert record.verified and record.precision == precision
        metadata = read_metadata(record.path)
        assert metadata["keep_detail"] == amount and metadata["detail_sigma"] == 1.0 and metadata["arch"]["base"] == 8
        got = open_model(record.path, threads=1).run(photo)
        assert np.abs(got - keep_detail_array(photo, _run(net, photo), amount)).max() < (1e-2 if precision == "fp32" else 6)
    (record,) = export(
        PreserveColors(KeepDetail(net, 0.5)), name="both", formats=[fmt], sizes=[128], precision=precision, out_dir=tmp_path, cache=cache
    )
    metadata = read_metadata(record.path)
    assert record.verified and metadata["keep_detail"] == 0.5 and metadata["preserve_colors"] == "ycbcr-bt601"


# ------------------------------------------------------------------------------------------------- noise
def test_prior_fit_and_sampling() -> None:
    generator = torch.Generator().manual_seed(4)
    logs = torch.randn(400, STATS_DIM, generator=generator) * 0.3 + 2.0
    prior = StylePrior.fit(torch.expm1(logs), rank=8)
    assert torch.allclose(prior.mean, logs.mean(0), atol=1e-4)
    total = prior.components.square().sum(0) + prior.residual_std.square()
    assert torch.allclose(total, logs.var(0), rtol=1e-3)
    a, b = prior.sample(1, count=2), prior.sample(1, count=2)
    assert torch.equal(a, b) and not torch.equal(prior.sample(2), a[:1])
    assert torch.allclose(prior.sample(5, temperature=0.0), torch.expm1(prior.mean)[None])
    many = torch.log1p(prior.sample(7, count=2000))
    assert float((many.std(0) - logs.std(0)).abs().mean()) < 0.02


def test_random_net_from_the_shipped_prior(meta: MetaNetwork) -> None:
    prior = StylePrior.load()
    assert prior.n_styles > 100 and prior.mean.shape == (STATS_DIM,)
    photo = _photo(64, 64)
    first, again, other = (_run(random_net(meta, s, prior), photo) for s in (1, 1, 2))
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 0.1


# ------------------------------------------------------------------------------------------------- tiles
@pytest.fixture(scope="module")
def style_net() -> TransformNet:
    torch.manual_seed(5)
    return MetaNetwork(head_gain=1.0).emit(_stats(1, 5))


def test_tiles_equal_full_frame_with_the_same_statistics(style_net: TransformNet) -> None:
    photo = _photo(200, 328)  # not a multiple of the tile: partial and overlapping tiles
    whole = torch.from_numpy(photo).permute(2, 0, 1)[None]
    stats = norm_statistics(style_net, whole)
    fixed = _run(fixed_norm_net(style_net, stats), photo)
    assert np.abs(fixed - _run(style_net, photo)).max() < 1e-2  # fixed norms with the picture's own statistics = the net
    tiled = stylize_tiled(style_net, photo, tile=192, margin=64, feather=16, stats=stats)
    assert np.abs(tiled - fixed).max() < 1e-2
    # with too little context the seams show (the test above can fail)
    thin = stylize_tiled(style_net, photo, tile=96, margin=16, feather=16, stats=stats)
    assert np.abs(thin - fixed).max() > 1.0


def test_tiles_exact_statistics_match_full_frame(style_net: TransformNet) -> None:
    photo = _photo(256, 320, seed=3)
    full = _run(style_net, photo)
    exact = stylize_tiled(style_net, photo, tile=192, exact=True)
    assert np.abs(exact - full).max() < 1e-2
    downscaled = stylize_tiled(style_net, photo, tile=192, stats_side=128)
    assert np.abs(downscaled - full).mean() < 60  # bounded, but not equal: statistics of a smaller picture
    assert np.abs(downscaled - full).mean() > np.abs(exact - full).mean()


def test_tile_arguments(style_net: TransformNet) -> None:
    with pytest.raises(ValueError):
        stylize_tiled(style_net, _photo(64, 66), tile=192)
    with pytest.raises(ValueError):
        stylize_tiled(style_net, _photo(64, 64), tile=130)


# ------------------------------------------------------------------------------------------------- refine
def test_refine_changes_a_copy(content_dir, vgg_weights, eval_style) -> None:
    torch.manual_seed(6)
    net = TransformNet().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    vgg = VGGEncoder.from_weights(vgg_weights)
    style = Image.open(sorted(eval_style.iterdir())[0]).convert("RGB")
    files = list_images(content_dir)[:8]
    batch = torch.rand(2, 3, 32, 32) * 255
    result = refine_net(net, style, files, vgg, refine_settings(3, image_size=32, batch_size=2), eval_batch=batch, eval_at=(0, 3))
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(v, result.net.state_dict()[k]) for k, v in before.items())
    assert len(result.losses) == 3 and set(result.eval_losses) == {0, 3} and all(np.isfinite(result.losses))


# ------------------------------------------------------------------------------------------------- CLI
def test_stylize_tile_and_preserve_colors_cli(tmp_path, eval_style, vgg_weights) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(_photo(300, 420).astype(np.uint8)).save(photo)
    style = sorted(eval_style.iterdir())[0]
    base = ["stylize", str(photo), "--style", str(style), "--vgg-weights", str(vgg_weights)]
    full = run_cli(*base, "-o", str(tmp_path / "full.png"))
    tiled = run_cli(*base, "--tile", "256", "--exact-stats", "--preserve-colors", "-o", str(tmp_path / "tiled.png"))
    assert full.returncode == 0 and tiled.returncode == 0, full.stderr + tiled.stderr
    a = np.asarray(Image.open(tmp_path / "full.png"), np.float32)
    b = np.asarray(Image.open(tmp_path / "tiled.png"), np.float32)
    assert a.shape == b.shape == (300, 420, 3)
    expected = preserve_colors_array(np.asarray(Image.open(photo), np.float32), a)
    assert np.abs(b - expected).mean() < 1.0
    detail = run_cli(*base, "--keep-detail", "0.5", "-o", str(tmp_path / "detail.png"))
    assert detail.returncode == 0, detail.stderr
    c = np.asarray(Image.open(tmp_path / "detail.png"), np.float32)
    assert np.abs(c - keep_detail_array(np.asarray(Image.open(photo), np.float32), a, 0.5)).max() <= 1.0  # 8-bit rounding
    assert np.abs(c - a).mean() > 1.0
    bad = run_cli(*base, "--tile", "250", "-o", str(tmp_path / "bad.png"))
    assert bad.returncode == 2 and "--tile" in bad.stderr


def test_export_control_errors(tmp_path, eval_style) -> None:
    style = str(sorted(eval_style.iterdir())[0])
    for args, words in (
        (["--random", "1", style], "no STYLE_IMAGE"),
        ([style, "--mix", "0.5"], "at least two"),
        ([], "STYLE_IMAGE"),
        (["--random", "1", "--refine", "5"], "--refine"),
        ([style, "--tiles", "--keep-detail", "0.5"], "--keep-detail"),
        ([style, "--keep-detail", "3"], "--keep-detail"),
    ):
        result = run_cli("export", *args, "-o", str(tmp_path))
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)


@pytest.mark.slow
def test_export_mix_random_preserve_colors_cli(tmp_path, tmp_path_factory, tiny_checkpoint, eval_style, vgg_weights) -> None:
    """The controls' nets go through the export stage: verified files with the controls in their metadata."""
    a, b = sorted(eval_style.iterdir())[:2]
    common = [
        "--format",
        "onnx",
        "--size",
        "64",
        "--precision",
        "fp32",
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
    ]
    env = {"MOBILESTYLE_CACHE": str(graph_cache(tmp_path_factory))}
    controls = ["--mix", "0.3", "--preserve-colors", "--keep-detail", "0.5"]
    mixed = run_cli("export", str(a), str(b), *controls, *common, "-o", str(tmp_path), env=env)
    assert mixed.returncode == 0, mixed.stderr
    metadata = read_metadata(tmp_path / f"mix-{a.stem}-{b.stem}.onnx")
    assert metadata["mix"] == {"styles": [a.name, b.name], "weights": [0.7, 0.3], "space": "pre-relu"}
    assert metadata["preserve_colors"] == "ycbcr-bt601" and metadata["arch"]["base"] == 8 and metadata["checkpoint"]
    assert metadata["keep_detail"] == 0.5
    random = run_cli("export", "--random", "3", "--temperature", "0.5", *common, "-o", str(tmp_path), env=env)
    assert random.returncode == 0, random.stderr
    metadata = read_metadata(tmp_path / "random-3.onnx")
    assert metadata["random_seed"] == 3 and metadata["temperature"] == 0.5 and "preserve_colors" not in metadata
