import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "content_loss", "style_loss", "tv_loss", "total_loss"]
    return [(int(r["step"]), float(r["total_loss"])) for r in rows]


def _train(run_dir: Path, content: Path, style: Path, vgg: Path, steps: int, *extra: str) -> subprocess.CompletedProcess:
    return run_cli(
        "train",
        "--content",
        str(content),
        "--style",
        str(style),
        "--out",
        str(run_dir),
        "--steps",
        str(steps),
        "--batch-size",
        "2",
        "--image-size",
        "64",
        "--workers",
        "1",
        "--seed",
        "0",
        "--no-progress",
        "--vgg-weights",
        str(vgg),
        *extra,
    )


def test_60_steps_lower_the_loss_and_resume_continues(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    run = tmp_path / "run"
    result = _train(run, content_dir, eval_style, vgg_weights, 60, "--sample-every", "30", "--checkpoint-every", "30")
    assert result.returncode == 0, result.stderr
    losses = [loss for _, loss in _losses(run)]
    assert len(losses) == 60
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.8 * first, (first, last)
    assert (run / "samples" / "step_0000060.png").is_file()

    resumed = _train(run, content_dir, eval_style, vgg_weights, 75, "--resume", "--json", "--sample-every", "0")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["step"] == 75 and summary["steps_run"] == 15
    steps = [s for s, _ in _losses(run)]
    assert steps == list(range(1, 76))
    # the resumed curve continues where it stopped rather than starting again from a random net
    assert max(loss for _, loss in _losses(run)[60:]) < max(losses[:5])


def test_missing_and_corrupt_checkpoints_are_clear_errors(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    result = _train(tmp_path / "empty", content_dir, eval_style, vgg_weights, 5, "--resume")
    assert result.returncode != 0 and "checkpoint not found" in result.stderr
    assert "Traceback" not in result.stderr
    run = tmp_path / "corrupt"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    result = _train(run, content_dir, eval_style, vgg_weights, 5, "--resume")
    assert result.returncode != 0 and "unreadable or corrupt" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_vgg_weights_is_one_line(tmp_path: Path, content_dir: Path, eval_style: Path) -> None:
    result = _train(tmp_path / "r", content_dir, eval_style, tmp_path / "missing.pth", 5)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "not found" in result.stderr


def test_unreadable_training_images_are_skipped(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    for src in sorted(content_dir.glob("*.jpg"))[:6]:
        shutil.copy(src, content)
    (content / "broken.jpg").write_bytes(b"not a jpeg at all")
    result = _train(tmp_path / "run", content, eval_style, vgg_weights, 3, "--sample-every", "0")
    assert result.returncode == 0, result.stderr
    assert "skipped 1 unreadable content image" in result.stderr


@pytest.mark.slow
def test_ddp_two_processes_gloo(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    run = tmp_path / "ddp"
    env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "mobilestyle",
        "train",
        "--content",
        str(content_dir),
        "--style",
        str(eval_style),
        "--out",
        str(run),
        "--steps",
        "6",
        "--batch-size",
        "1",
        "--image-size",
        "32",
        "--workers",
        "0",
        "--sample-every",
        "0",
        "--no-progress",
        "--device",
        "cpu",
        "--vgg-weights",
        str(vgg_weights),
        "--json",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["step"] == 6  # only rank 0 prints
    assert [s for s, _ in _losses(run)] == list(range(1, 7))


def test_sigterm_to_the_process_group_saves_a_checkpoint(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    """`docker stop`, schedulers and pkill signal every process, data-loading workers included: still a clean save."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "mobilestyle",
        "train",
        "--content",
        str(content_dir),
        "--style",
        str(eval_style),
        "--out",
        str(run_dir),
        "--steps",
        "100000",
        "--batch-size",
        "1",
        "--image-size",
        "32",
        "--workers",
        "1",
        "--sample-every",
        "0",
        "--checkpoint-every",
        "0",
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
    ]
    env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    metrics = run_dir / "metrics.csv"
    deadline = time.monotonic() + 240
    # the header is written before the first step; wait for flushed rows (every 50 steps): training is under way
    while time.monotonic() < deadline and process.poll() is None and not (metrics.exists() and metrics.read_text().count("\n") > 1):
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()[1]
    os.killpg(process.pid, signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr  # saved, then non-zero: a scheduler can tell the run did not finish
    assert "interrupted at step" in stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and summary["step"] >= 1
    assert (run_dir / "checkpoint.safetensors").is_file()


def test_resumed_metrics_keep_their_history_on_disk_before_the_first_new_row(tmp_path: Path) -> None:
    """A resume rewrites metrics.csv without the rows after the checkpoint; a kill at that moment must not cut it."""
    from mobilestyle.training.loop import METRIC_COLUMNS, MetricsLog

    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([METRIC_COLUMNS, *([str(step), "1", "2", "3", "6"] for step in range(1, 11))])
    log = MetricsLog(tmp_path, 6, enabled=True)
    try:
        assert [step for step, _ in _losses(tmp_path)] == [1, 2, 3, 4, 5, 6]  # on disk now, not in a buffer
        log.write(7, {"content_loss": 1.0, "style_loss": 2.0, "tv_loss": 3.0, "total_loss": 6.0})
        log.flush()
        assert [step for step, _ in _losses(tmp_path)] == [1, 2, 3, 4, 5, 6, 7]
    finally:
        log.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "tensorboard") == ["metrics.csv"]  # no temporaries left
