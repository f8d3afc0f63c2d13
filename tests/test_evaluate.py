"""`mobilestyle evaluate` at a tiny size: ours, a Johnson net, Gatys and Magenta on one (content, style) pair."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from PIL import Image

from mobilestyle.evaluation import parse_steps, ssim

STYLE = "candy.jpg"
CONTENT = "bsds_100007.jpg"


@pytest.fixture(scope="module")
def pair_dirs(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval_data")
    (root / "content").mkdir()
    (root / "style").mkdir()
    shutil.copy(shared / "data" / "eval" / "content" / CONTENT, root / "content")
    shutil.copy(shared / "data" / "eval" / "style" / STYLE, root / "style")
    return root / "content", root / "style"


@pytest.fixture(scope="module")
def johnson_dir(tmp_path_factory: pytest.TempPathFactory, pair_dirs: tuple[Path, Path], content_dir: Path, vgg_weights: Path) -> Path:
    """A per-style net for candy (a run folder named after the style), from a 2-step Johnson run on one image file."""
    folder = tmp_path_factory.mktemp("johnson")
    result = run_cli(
        "train",
        "--method",
        "johnson",
        "--content",
        str(content_dir),
        "--style",
        str(pair_dirs[1] / STYLE),
        "--out",
        str(folder / Path(STYLE).stem),
        "--steps",
        "2",
        "--batch-size",
        "1",
        "--image-size",
        "32",
        "--workers",
        "0",
        "--sample-every",
        "0",
        "--checkpoint-every",
        "0",
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
    )
    assert result.returncode == 0, result.stderr
    assert "trains one style" not in result.stderr  # one file: no warning
    return folder


def test_ssim_is_one_for_identical_images_and_low_for_noise() -> None:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 40, 40) * 255
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-5)
    assert ssim(torch.rand(1, 3, 40, 40) * 255, image) < 0.1
    assert 0.5 < ssim((image + 10).clamp(0, 255), image) < 1.0


def test_parse_steps() -> None:
    assert parse_steps("50,200,500") == [50, 200, 500]
    assert parse_steps("none") == [] and parse_steps("") == []


def test_evaluate_writes_table_json_and_grid(
    tmp_path: Path, pair_dirs: tuple[Path, Path], johnson_dir: Path, tiny_checkpoint: Path, shared: Path, vgg_weights: Path
) -> None:
    pytest.importorskip("ai_edge_litert")
    report, json_path = tmp_path / "report", tmp_path / "scores.json"
    result = run_cli(
        "evaluate",
        "--content",
        str(pair_dirs[0]),
        "--style",
        str(pair_dirs[1]),
        "--size",
        "32",
        "--checkpoint",
        str(tiny_checkpoint),
        "--johnson",
        str(johnson_dir),
        "--gatys-steps",
        "2,5",
        "--magenta-peers",
        str(shared / "peers"),
        "--json",
        str(json_path),
        "--report",
        str(report),
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(json_path.read_text())
    methods = ["ours", "johnson", "gatys@2", "gatys@5", "magenta"]
    assert data["methods"] == methods
    assert [p["method"] for p in data["pairs"]] == methods
    for pair in data["pairs"]:
        assert pair["content"] == CONTENT and pair["style"] == STYLE
        for key in ("content_loss", "style_meanstd", "style_gram", "total_loss"):
            assert pair[key] >= 0
        assert -1 <= pair["ssim"] <= 1
        assert pair["total_loss"] == pytest.approx(pair["content_loss"] + pair["style_meanstd"] + pair["tv_loss"], rel=1e-5)
    by_method = {p["method"]: p for p in data["pairs"]}
    assert by_method["gatys@5"]["total_loss"] < by_method["gatys@2"]["total_loss"]  # more steps, lower loss
    assert set(data["summary"]) == set(methods) and set(data["per_style"]) == {STYLE}
    assert any(line.startswith("total loss vs johnson: ") for line in data["targets"])
    markdown = (report / "evaluation.md").read_text()
    assert "| method | pairs | content | style (mean/std) |" in markdown and "| magenta | 1 |" in markdown
    assert "grids/candy.png" in markdown
    with Image.open(report / "grids" / "candy.png") as grid:
        assert grid.width > 6 * grid.height // 2  # content | style | 5 methods side by side
    assert json.loads((report / "evaluation.json").read_text())["methods"] == methods
    assert "| ours | 1 |" in result.stdout


def test_evaluate_skips_missing_methods_with_notes(
    tmp_path: Path, pair_dirs: tuple[Path, Path], tiny_checkpoint: Path, vgg_weights: Path
) -> None:
    env = {"MOBILESTYLE_PEERS": "", "MOBILESTYLE_SHARED": ""}
    result = run_cli(
        "evaluate",
        "--content",
        str(pair_dirs[0]),
        "--style",
        str(pair_dirs[1]),
        "--size",
        "32",
        "--checkpoint",
        str(tiny_checkpoint),
        "--gatys-steps",
        "none",
        "--json",
        str(tmp_path / "s.json"),
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["methods"] == ["ours"]
    notes = " ".join(data["notes"])
    assert "johnson: skipped" in notes and "gatys: skipped" in notes and "magenta: skipped" in notes


def test_evaluate_needs_folders_without_shared_env(tmp_path: Path) -> None:
    result = run_cli("evaluate", env={"MOBILESTYLE_SHARED": ""})
    assert result.returncode == 2 and "--content is required" in result.stderr and "Traceback" not in result.stderr
