"""`mobilestyle stylize` with PyTorch (--style) and with exported files (--model), incl. --grid."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_checkpoint, eval_style, vgg_weights):
    out = tmp_path_factory.mktemp("stylize_models")
    result = run_cli(
        "export",
        str(eval_style / "la_muse.jpg"),
        "--format",
        "onnx,tflite",
        "--size",
        "64",
        "--precision",
        "fp32",
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(out),
        env={"MOBILESTYLE_CACHE": str(tmp_path_factory.getbasetemp() / "graph_cache")},
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def content(tmp_path_factory, content_dir):
    photo = sorted(content_dir.rglob("*.jpg"))[0]
    return photo


def test_stylize_with_model_files_matches_pytorch(models, content, tmp_path, tiny_checkpoint, eval_style, vgg_weights):
    torch_out = tmp_path / "torch.png"
    result = run_cli(
        "stylize",
        str(content),
        "--style",
        str(eval_style / "la_muse.jpg"),
        "--size",
        "64",
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(torch_out),
    )
    assert result.returncode == 0, result.stderr
    reference = np.asarray(Image.open(torch_out), dtype=np.float32)
    for suffix in (".onnx", ".tflite"):
        target = tmp_path / f"model{suffix}.png"
        result = run_cli("stylize", str(content), "--model", str(models / f"la_muse{suffix}"), "--size", "64", "-o", str(target))
        assert result.returncode == 0, result.stderr
        got = np.asarray(Image.open(target), dtype=np.float32)
        if suffix == ".onnx":
            assert got.shape == reference.shape and np.abs(got - reference).max() <= 1.0
        else:
            assert got.shape == (64, 64, 3)


def test_stylize_grid_and_wrong_size(models, content, tmp_path):
    result = run_cli("stylize", str(content), "--model", str(models / "la_muse.onnx"), "--size", "64", "--grid", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (grid,) = tmp_path.glob("*_grid.png")
    assert Image.open(grid).size[0] > 2 * 64
    result = run_cli("stylize", str(content), "--model", str(models / "la_muse.tflite"), "--size", "128", "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "64x64" in result.stderr and not (tmp_path / "x.png").exists()


def test_stylize_needs_exactly_one_source(content, tmp_path):
    result = run_cli("stylize", str(content), "-o", str(tmp_path))
    assert result.returncode == 2 and "exactly one of --style" in result.stderr
