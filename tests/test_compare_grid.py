"""scripts/compare_grid.py: one picture comparing meta networks (and Magenta) on the same styles and photos."""

from __future__ import annotations

import argparse
from pathlib import Path

import compare_grid  # scripts/ is on pytest's pythonpath (pyproject.toml)
import numpy as np
import pytest
from conftest import REPO, shared_path
from PIL import Image


def test_model_arguments_are_label_equals_path() -> None:
    assert compare_grid.labelled_model("skip=runs/a/model.safetensors") == ("skip", Path("runs/a/model.safetensors"))
    for bad in ("runs/a/model.safetensors", "=model.safetensors", "skip="):
        with pytest.raises(argparse.ArgumentTypeError):
            compare_grid.labelled_model(bad)


def test_grid_has_a_row_per_style_and_photo_and_a_column_per_model(
    tmp_path: Path, monkeypatch, tiny_checkpoint: Path, eval_style: Path, content_dir: Path, vgg_weights: Path
) -> None:
    peers = shared_path("peers", "magenta")
    styles = [eval_style / "mosaic.jpg", eval_style / "the_scream.jpg"]
    photo = sorted(content_dir.glob("*.jpg"))[0]
    out = tmp_path / "grid.png"
    monkeypatch.setenv("MOBILESTYLE_VGG16", str(vgg_weights))
    shipped = REPO / "mobilestyle" / "models" / "meta8.safetensors"
    argv = ["compare_grid.py", "--model", f"shipped={shipped}", "--model", f"tiny={tiny_checkpoint}", "--photo", str(photo)]
    argv += ["--style", str(styles[0]), "--style", str(styles[1]), "--magenta-peers", str(peers)]
    argv += ["--size", "64", "--cell", "64", "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    compare_grid.main()
    grid = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)
    # 5 columns (photo, style, 2 models, Magenta) of 64 px with 2 px gaps; a header, 2 rows
    assert grid.shape == (18 + 2 * 64 + 2, 5 * 64 + 4 * 2, 3)

    def tile(row: int, column: int) -> np.ndarray:
        top, left = 18 + row * 66, column * 66
        return grid[top : top + 64, left : left + 64]

    assert np.abs(tile(0, 0) - tile(1, 0)).mean() < 1  # the same photo on both rows
    assert np.abs(tile(0, 1) - tile(1, 1)).mean() > 10  # two styles
    assert np.abs(tile(0, 2) - tile(0, 3)).mean() > 5  # the two models' outputs differ
    assert np.abs(tile(0, 2) - tile(1, 2)).mean() > 5  # one model, two styles
    assert np.abs(tile(0, 4) - tile(0, 0)).mean() > 5  # Magenta stylized the photo
