"""Shared fixtures. Tests find the shared data through $MOBILESTYLE_SHARED (default: ../shared)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Under pytest-xdist (pyproject's addopts: two workers) each worker, and every CLI process it starts, uses one thread:
# two workers with torch's default of one thread per core would oversubscribe the cores (OpenMP threads spin-wait).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOBILESTYLE_SHARED", REPO.parent / "shared")).resolve()


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data missing: {path} (set MOBILESTYLE_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def vgg_weights() -> Path:
    return shared_path("weights", "vgg16_caffe_features.pth")


@pytest.fixture(scope="session")
def eval_style() -> Path:
    return shared_path("data", "eval", "style")


@pytest.fixture(scope="session")
def content_dir() -> Path:
    return shared_path("data", "train", "content", "bsds")


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `mobilestyle` command line in a subprocess (as a user would)."""
    full_env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mobilestyle", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=900)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, eval_style: Path, vgg_weights: Path) -> Path:
    """A meta network from a tiny real training run (until a trained default model ships)."""
    run_dir = tmp_path_factory.mktemp("tiny_run")
    result = run_cli(
        "train",
        "--content",
        str(content_dir),
        "--style",
        str(eval_style),
        "--out",
        str(run_dir),
        "--steps",
        "12",
        "--batch-size",
        "2",
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
    return run_dir / "checkpoint.safetensors"
