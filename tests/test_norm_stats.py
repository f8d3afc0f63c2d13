"""Norm-statistics files (export/norm_stats.py): the export graph with its instance-norm statistics in and out, so
that a runtime can stylize a whole photo in tiles with one set of statistics (the demos' whole-photo mode)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image
from test_export import graph_cache

from mobilestyle.controls.colors import PreserveColors
from mobilestyle.controls.tiles import fixed_norm_net, norm_statistics, stylize_per_tile
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import norm_stats, read_metadata
from mobilestyle.export.graph import NormStatsGraph, export_graph
from mobilestyle.export.norm_stats import NormStatsRunner, export_tiles, stylize_whole_photo, tiles_graph, verify_tiles_file
from mobilestyle.export.templates import TemplateCache
from mobilestyle.images import center_crop_square
from mobilestyle.transformer import NetConfig, TransformNet

SIDE = 64


def random_net(seed: int = 0, **config: str) -> TransformNet:
    torch.manual_seed(seed)
    return TransformNet(NetConfig(base=8, **config)).eval()


def nchw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None]


@pytest.mark.parametrize("padding", ["zero", "reflect"])
def test_graph_passes_are_the_net_and_the_fixed_statistics_net(padding: str) -> None:
    """use_given 0: the plain export graph (same ops) and its statistics; use_given 1: fixed_norm_net with them."""
    net = random_net(padding=padding)
    graph = export_graph(net)
    io = NormStatsGraph(graph).eval()
    assert io.length == 2 * (16 + 32 + 10 * 32 + 16 + 32)  # 8-base: norm_up1 in 2x2-block form (4 phases x 8)
    first, second = torch.rand(1, 3, 64, 64) * 255, torch.rand(1, 3, 96, 80) * 255
    with torch.no_grad():
        plain = net(second)
        own, stats = io(first, torch.zeros(1, io.length), torch.zeros(1, 1))
        assert torch.equal(own, graph(first))
        given, _ = io(second, stats, torch.ones(1, 1))
        expected = fixed_norm_net(net, norm_statistics(net, first))(second)
    assert float((given - expected).abs().max()) < 1e-3
    assert float((given - plain).abs().mean()) > 1.0  # the given statistics changed the picture


@pytest.mark.slow
def test_exported_files_run_both_passes_like_pytorch(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    net = random_net()
    cache = TemplateCache(graph_cache(tmp_path_factory))
    records = export_tiles(net, formats=["onnx", "tflite"], size=SIDE, out_dir=tmp_path, name="alpha", cache=cache)
    assert [Path(r.path).name for r in records] == ["alpha.tiles.onnx", "alpha.tiles.tflite"]
    assert all(r.verified and r.max_abs_error is not None and r.max_abs_error < 2e-3 for r in records)
    rng = np.random.default_rng(0)
    crop, tile = rng.uniform(0, 255, (SIDE, SIDE, 3)).astype(np.float32), rng.uniform(0, 255, (SIDE, SIDE, 3)).astype(np.float32)
    with torch.no_grad():
        expected = fixed_norm_net(net, norm_statistics(net, nchw(crop)))(nchw(tile))[0].permute(1, 2, 0).numpy()
    for record in records:
        metadata = read_metadata(Path(record.path))
        assert metadata["role"] == "tiles" and metadata["norm_stats_length"] == 832
        runner = NormStatsRunner(Path(record.path))
        assert float(np.abs(runner.run(tile, runner.statistics(crop)) - expected).max()) < 2e-3, record.format
    # a second net reuses the converted templates (patched weights), and still verifies
    again = export_tiles(random_net(seed=1), formats=["tflite"], size=SIDE, out_dir=tmp_path, name="beta", cache=cache)
    assert again[0].verified


@pytest.mark.slow
def test_whole_photo_plan_uses_the_centre_crop_statistics(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """stylize_whole_photo (the demos' reference) = the whole photo through the net with the centre crop's
    statistics (256² windows with 64 px of context cover the receptive field), and not every tile on its own."""
    net, side = random_net(seed=2), 256
    cache = TemplateCache(graph_cache(tmp_path_factory))
    (record,) = export_tiles(net, formats=["onnx"], size=SIDE, out_dir=tmp_path, name="gamma", cache=cache)
    runner = NormStatsRunner(Path(record.path))  # ONNX: any side, so the 256² plan runs on a file exported at 64
    rng = np.random.default_rng(1)
    photo = np.clip(rng.normal(128, 60, (320, 448, 3)), 0, 255).astype(np.uint8).astype(np.float32)
    page = stylize_whole_photo(runner, photo, side)
    crop = np.asarray(center_crop_square(Image.fromarray(photo.astype(np.uint8)), side), np.float32)
    with torch.no_grad():
        expected = fixed_norm_net(net, norm_statistics(net, nchw(crop)))(nchw(photo))[0].permute(1, 2, 0).numpy()
        per_tile = stylize_per_tile(lambda t: net(nchw(t))[0].permute(1, 2, 0).numpy(), photo, side)
    assert float(np.abs(page - expected).max()) < 2e-3
    assert float(np.abs(page - runner.run(photo, runner.statistics(crop))).max()) < 2e-3  # the file on the whole photo
    assert float(np.abs(page - per_tile).mean()) > 0.5


def test_refuses_what_it_cannot_export(tmp_path: Path) -> None:
    net = random_net()
    with pytest.raises(MobilestyleError, match="come as onnx, tflite"):
        export_tiles(net, formats=["coreml"], size=SIDE, out_dir=tmp_path, name="x")
    with pytest.raises(MobilestyleError, match="plain style net"):
        export_tiles(PreserveColors(net), formats=["onnx"], size=SIDE, out_dir=tmp_path, name="x")  # type: ignore[arg-type]
    with pytest.raises(MobilestyleError, match="multiples of 4"):
        export_tiles(net, formats=["onnx"], size=66, out_dir=tmp_path, name="x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_export_cli_writes_the_tiles_file_beside_the_model(eval_style: Path, vgg_weights: Path, tmp_path: Path) -> None:
    style = str(eval_style / "candy.jpg")
    common = ["--vgg-weights", str(vgg_weights), "--json"]
    result = run_cli("export", style, "--format", "onnx", "--tiles", "--size", "128", "-o", str(tmp_path / "out"), *common)
    assert result.returncode == 0, result.stderr
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert set(records) == {"candy.onnx", "candy.tiles.onnx"} and records["candy.tiles.onnx"]["verified"]
    assert read_metadata(tmp_path / "out" / "candy.tiles.onnx")["role"] == "tiles"
    for extra, message in ((["--format", "coreml"], "add --format onnx or tflite"), (["--preserve-colors"], "apply them in the app")):
        refused = run_cli("export", style, "--tiles", *extra, "-o", str(tmp_path / "no"), *common)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.slow
def test_verification_holds_a_picture_made_with_the_files_own_statistics(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statistics 5e-4 off (under their own 1e-3 proxy limit) still fail: a tile normalised with them is checked too."""
    net = random_net(seed=3)
    cache = TemplateCache(graph_cache(tmp_path_factory))
    (record,) = export_tiles(net, formats=["onnx"], size=SIDE, out_dir=tmp_path, name="delta", cache=cache)
    reference = tiles_graph(net, "onnx")
    assert verify_tiles_file(Path(record.path), "onnx", reference, SIDE)[0] < 2e-3
    honest = NormStatsRunner.run_both

    def skewed(self: NormStatsRunner, rgb: np.ndarray, stats: np.ndarray, use_given: float) -> tuple[np.ndarray, np.ndarray]:
        image, own = honest(self, rgb, stats, use_given)
        return image, own * np.float32(1.0005)

    monkeypatch.setattr(NormStatsRunner, "run_both", skewed)
    with pytest.raises(MobilestyleError, match="verification failed"):
        verify_tiles_file(Path(record.path), "onnx", reference, SIDE)
    monkeypatch.setattr(NormStatsRunner, "run_both", honest)
    # the float64 branch (taken when a file misses 1e-3 of PyTorch fp32): PyTorch's own error in both kernel layouts
    monkeypatch.setattr(norm_stats, "MAX_ABS_FP32", 0.0)
    monkeypatch.setattr(norm_stats, "STATS_RTOL", 0.0)
    error, against = verify_tiles_file(Path(record.path), "onnx", reference, SIDE)
    assert error < 2e-3 and "float64" in against and "3x" in against
