"""Issue 16: hostile input and crashes. Every failure is one line on stderr and exit 2, nothing is allocated before
the sizes are checked, foreign models are refused, outputs are checked before the work, no stray files are left,
and training survives kill -9 / SIGTERM with exact resumes. docs/reliability.md lists every case."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from conftest import run_cli, shared_path
from PIL import Image

from mobilestyle.errors import MobilestyleError


def run_main(*args: str) -> tuple[int, str, str]:
    """The real entry point in this process (fast: no interpreter start); returns (exit code, stdout, stderr)."""
    import io

    from mobilestyle.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = signal.getsignal(signal.SIGTERM)
    code = 0
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return code, out.getvalue(), err.getvalue()


def assert_exit_2(result: tuple[int, str, str], *needles: str) -> str:
    code, _, err = result
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 48)).save(path)
    return path


# ----------------------------------------------------------------------------------------- 1. memory bombs
@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("stylize", "--size"),
        ("evaluate", "--size"),
        ("optimize", "--size"),
        ("optimize", "--style-size"),
        ("adapt", "--image-size"),
        ("adapt", "--style-size"),
        ("train", "--image-size"),
        ("train", "--style-size"),
    ],
)
def test_huge_sizes_refused_before_any_work(photo: Path, tmp_path: Path, command: str, flag: str) -> None:
    args = {
        "stylize": [str(photo), "--style", str(photo), "-o", str(tmp_path / "o")],
        "evaluate": ["--content", str(tmp_path), "--style", str(tmp_path)],
        "optimize": [str(photo), str(photo), "-o", str(tmp_path / "o.png")],
        "adapt": [str(photo), "-o", str(tmp_path / "o")],
        "train": ["--content", str(tmp_path), "--style", str(tmp_path), "--out", str(tmp_path / "run")],
    }[command]
    started = time.perf_counter()
    line = assert_exit_2(run_main(command, *args, flag, "100000"))
    assert "100000" in line and time.perf_counter() - started < 30
    assert list(tmp_path.iterdir()) == []


def test_extreme_aspect_style_refused_before_upscale(tmp_path: Path) -> None:
    """A 1 KB PNG of 20000x16 passes the 50 MP check; upscaled to a 256 short side it asked for a 21 GB tensor."""
    bomb = tmp_path / "strip.png"
    Image.new("RGB", (20000, 16), "red").save(bomb)
    assert bomb.stat().st_size < 5000
    started = time.perf_counter()
    assert_exit_2(run_main("stylize", str(bomb), "--style", str(bomb), "-o", str(tmp_path / "o")), "20:1")
    assert time.perf_counter() - started < 30 and not (tmp_path / "o").exists()


def test_styles_are_cropped_and_resizes_bounded_before_allocation() -> None:
    from mobilestyle.images import MAX_STYLE_ASPECT, MAX_WORK_PIXELS, fit_short_side, prepare_style, resize_short_side

    style = prepare_style(Image.new("RGB", (1000, 16)), 256)  # 62:1 -> cropped to 4:1 first, then 1024x256
    assert style.size == (256 * MAX_STYLE_ASPECT, 256)
    with pytest.raises(MobilestyleError, match="working limit"):
        resize_short_side(Image.new("RGB", (4000, 300)), 4096)  # would be 54613x4096: refused, nothing allocated
    huge = Image.new("RGB", (8000, 6000))  # no --size: downscaled to fit the working limit
    side = fit_short_side(huge)
    assert side % 4 == 0 and side * side * 8000 / 6000 <= MAX_WORK_PIXELS


# ----------------------------------------------------------------------------------------- 2. foreign models
@pytest.mark.parametrize("name", ["style_transfer_quantized_384.tflite", "style_predict_quantized_256.tflite"])
def test_foreign_tflite_models_refused(photo: Path, tmp_path: Path, name: str) -> None:
    model = shared_path("peers", "magenta", name)
    line = assert_exit_2(run_main("stylize", str(photo), "--model", str(model), "-o", str(tmp_path / "o.png")), name)
    assert "not a model made by mobilestyle" in line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("name", "data"), [("garbage.onnx", b"not protobuf at all \xff\xfe"), ("garbage.tflite", b"\x00" * 64), ("empty.onnx", b"")]
)
def test_unreadable_models_refused(photo: Path, tmp_path: Path, name: str, data: bytes) -> None:
    model = tmp_path / name
    model.write_bytes(data)
    assert_exit_2(run_main("stylize", str(photo), "--model", str(model), "-o", str(tmp_path / "o.png")), name)


# ----------------------------------------------------------------------------------------- 3. write errors
@pytest.mark.parametrize("target", ["/proc/mobilestyle/o.png", "/proc/o.png", "/sys/o.png"])
def test_pseudo_filesystem_outputs_refused_first(photo: Path, tmp_path: Path, target: str) -> None:
    missing_model = tmp_path / "never_opened.onnx"  # the output is checked before the model is even looked at
    assert_exit_2(run_main("stylize", str(photo), "--model", str(missing_model), "-o", target), "cannot")


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("bench", ["--sizes", "64", "--runtimes", "torch", "--json", "/proc/x.json"]),
        ("bench", ["--sizes", "64", "--runtimes", "torch", "--report", "/proc/report"]),
        ("evaluate", ["--content", "/nonexistent", "--style", "/nonexistent", "--json", "/proc/x.json"]),
        ("optimize", ["a.png", "b.png", "-o", "/proc/x.png"]),
    ],
)
def test_json_and_report_paths_checked_before_the_work(command: str, args: list[str]) -> None:
    started = time.perf_counter()
    assert_exit_2(run_main(command, *args), "/proc")
    assert time.perf_counter() - started < 20


def test_disk_full_is_one_line_and_leaves_nothing(
    photo: Path, tmp_path: Path, tiny_checkpoint: Path, vgg_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    out = tmp_path / "out"
    out.mkdir()
    result = run_main(
        "stylize",
        str(photo),
        "--style",
        str(photo),
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(out),
    )
    assert_exit_2(result, "No space left on device")
    assert list(out.iterdir()) == []


def test_stray_os_errors_map_to_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any OSError that escapes a command (read-only file system, quota, I/O error) is the environment: exit 2."""
    import mobilestyle.commands.stylize as stylize

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "x"))

    monkeypatch.setattr(stylize, "_targets", read_only)
    assert_exit_2(run_main("stylize", "a.png", "--model", "m.onnx"), "Read-only file system")


# ----------------------------------------------------------------------------------------- 4. stray files
def test_unsupported_output_suffix_makes_no_folder(photo: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.gif"
    assert_exit_2(run_main("stylize", str(photo), "--model", str(tmp_path / "m.onnx"), "-o", str(target)), ".gif")
    assert not target.exists()


def test_failed_export_leaves_no_empty_folder(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "models"
    assert_exit_2(
        run_main("export", str(photo), "--format", "onnx", "--checkpoint", str(tmp_path / "missing.safetensors"), "-o", str(out)),
        "checkpoint not found",
    )
    assert not (tmp_path / "new").exists()


def test_stale_temporaries_of_dead_processes_are_swept(tmp_path: Path) -> None:
    from mobilestyle.atomic import atomic_write_text

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".style.tflite.{dead.pid}.k3j2h1g9.tmp"
    stale.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".style.mlpackage.{dead.pid}.a1b2c3d4.tmp"
    stale_dir.mkdir()
    alive = tmp_path / f".other.onnx.{os.getpid()}.zz99yy88.tmp"
    alive.write_bytes(b"in progress")
    old = tmp_path / ".style.onnx.abcd1234.tmp"  # an older version's name: swept once a day old
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    atomic_write_text(tmp_path / "next.json", "{}")
    assert not stale.exists() and not stale_dir.exists() and not old.exists()
    assert alive.exists() and (tmp_path / "next.json").read_text() == "{}"


def test_scratch_folders_of_dead_processes_are_swept() -> None:
    import tempfile

    from mobilestyle.atomic import scratch_dir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.gettempdir()) / f"mobilestyle-bench.{dead.pid}.abc12345.tmp"
    (stale / "inner").mkdir(parents=True)
    with scratch_dir("mobilestyle-bench") as work:
        assert work.is_dir() and not stale.exists()
    assert not work.exists()


def test_sigterm_inside_an_atomic_write_removes_the_temporary(tmp_path: Path) -> None:
    from mobilestyle.atomic import atomic_path
    from mobilestyle.cli import install_sigterm
    from mobilestyle.errors import Terminated

    previous = signal.getsignal(signal.SIGTERM)
    install_sigterm()
    try:
        with pytest.raises(Terminated), atomic_path(tmp_path / "model.tflite") as tmp:
            tmp.write_bytes(b"x" * 364_000)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_exits_143_and_says_so() -> None:
    """Any command ended by SIGTERM unwinds (finally blocks run) and exits 143 with one line."""
    script = (
        "import os, signal, time, click\n"
        "from mobilestyle import cli\n"
        "@click.command()\n"
        "def hang():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "cli.LazyGroup.get_command = lambda self, ctx, name: hang\n"
        "cli.main(['hang'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 143, result.stderr
    assert result.stderr.strip() == "terminated (SIGTERM)"


# ----------------------------------------------------------------------------------------- 6. more internal errors
@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--lr", "nan", "--lr must be a positive finite number"),
        ("--lr", "-1", "--lr must be"),
        ("--lr", "inf", "--lr must be"),
        ("--device", "tpu", "unknown --device 'tpu'"),
        ("--device", "cuda:x", "unknown --device"),
        ("--style-weight", "nan", "--style-weight must be"),
    ],
)
def test_bad_training_values(tmp_path: Path, content_dir: Path, eval_style: Path, flag: str, value: str, needle: str) -> None:
    out = tmp_path / "run"
    assert_exit_2(run_main("train", "--content", str(content_dir), "--style", str(eval_style), "--out", str(out), flag, value), needle)
    assert not out.exists()


def test_content_folder_with_only_corrupt_images(tmp_path: Path, content_dir: Path, eval_style: Path) -> None:
    """Truncated JPEGs pass the header check; the loader used to end with 'internal error: StopIteration'."""
    content = tmp_path / "content"
    content.mkdir()
    for src in sorted(content_dir.glob("*.jpg"))[:3]:
        data = src.read_bytes()
        (content / src.name).write_bytes(data[: len(data) // 4])
    result = run_main(
        "train",
        "--content",
        str(content),
        "--style",
        str(eval_style),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "2",
        "--workers",
        "0",
        "--no-progress",
    )
    assert_exit_2(result, "none of the 3 content images", "decodes")


def _crafted(tiny_checkpoint: Path, target: Path, **changes: object) -> Path:
    from mobilestyle.checkpoint import load_checkpoint, save_checkpoint

    tensors, meta = load_checkpoint(tiny_checkpoint)
    meta.pop("format", None)
    meta.pop("mobilestyle_version", None)
    for key, value in changes.items():
        if key == "base":
            meta["net"] = {**meta["net"], "base": value}
        else:
            meta[key] = value
    return save_checkpoint(target, tensors, meta)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"base": 64}, "invalid architecture"),
        ({"base": "8"}, "invalid architecture"),
        ({"style_size": -5}, "invalid style size"),
        ({"style_size": 10**9}, "invalid style size"),
        ({"style_size": "big"}, "invalid style size"),
        ({"net": "x"}, "does not say its architecture"),
    ],
)
def test_crafted_checkpoint_headers(photo: Path, tmp_path: Path, tiny_checkpoint: Path, changes: dict, needle: str) -> None:
    crafted = _crafted(tiny_checkpoint, tmp_path / "crafted.safetensors", **changes)
    result = run_main("stylize", str(photo), "--style", str(photo), "--checkpoint", str(crafted), "-o", str(tmp_path / "o"))
    assert_exit_2(result, needle)


def test_pickle_passed_as_checkpoint(photo: Path, tmp_path: Path, vgg_weights: Path) -> None:
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(b"\x80\x02}q\x00.")
    for path in (vgg_weights, legacy):
        line = assert_exit_2(run_main("stylize", str(photo), "--style", str(photo), "--checkpoint", str(path), "-o", str(tmp_path / "o")))
        assert "pickle" in line and "header too large" not in line, line


def test_tflite_passed_as_checkpoint(photo: Path, tmp_path: Path) -> None:
    model = shared_path("peers", "magenta", "style_transfer_quantized_384.tflite")
    assert_exit_2(
        run_main("stylize", str(photo), "--style", str(photo), "--checkpoint", str(model), "-o", str(tmp_path / "o")), "is a TFLite model"
    )


def test_usage_errors_are_one_line(photo: Path) -> None:
    assert_exit_2(run_main("stylize", str(photo), "--bogus"), "No such option", "--help")
    assert_exit_2(run_main("stylize", str(photo), "--size", "abc"), "--size")


# ----------------------------------------------------------------------------------------- 5. training after a crash
def _small_content(tmp_path: Path, content_dir: Path, count: int = 4) -> Path:
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    for src in sorted(content_dir.glob("*.jpg"))[:count]:
        shutil.copy(src, content)
    return content


def _train_args(content: Path, style: Path, run: Path, vgg: Path, steps: int, *extra: str) -> list[str]:
    return [
        "train",
        "--content",
        str(content),
        "--style",
        str(style),
        "--out",
        str(run),
        "--steps",
        str(steps),
        "--batch-size",
        "2",
        "--image-size",
        "32",
        "--seed",
        "3",
        "--style-every",
        "2",
        "--sample-every",
        "0",
        "--no-progress",
        "--device",
        "cpu",
        "--vgg-weights",
        str(vgg),
        *extra,
    ]


def _rows(run: Path) -> dict[int, list[float]]:
    with open(run / "metrics.csv", newline="") as handle:
        return {
            int(r["step"]): [float(r[k]) for k in ("content_loss", "style_loss", "tv_loss", "total_loss")] for r in csv.DictReader(handle)
        }


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    """N steps in one go vs K steps + --resume to N: the same losses at every step after the checkpoint (CPU, same seed)."""
    content = _small_content(tmp_path, content_dir)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli(*_train_args(content, eval_style, whole, vgg_weights, 7, "--workers", "1")).returncode == 0
    assert run_cli(*_train_args(content, eval_style, parts, vgg_weights, 3, "--workers", "0")).returncode == 0
    resumed = run_cli(*_train_args(content, eval_style, parts, vgg_weights, 7, "--workers", "1", "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = _rows(whole), _rows(parts)
    assert sorted(a) == sorted(b) == list(range(1, 8))
    for step in range(4, 8):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-9), step


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None and not path.exists():
        time.sleep(0.2)
    assert process.poll() is None and path.exists(), process.communicate()[1][-2000:]


def _start_training(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mobilestyle", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def test_kill_9_keeps_the_metrics_of_the_checkpoint(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    from mobilestyle.checkpoint import load_checkpoint

    run = tmp_path / "run"
    process = _start_training(
        _train_args(
            _small_content(tmp_path, content_dir), eval_style, run, vgg_weights, 100000, "--workers", "0", "--checkpoint-every", "3"
        )
    )
    _wait_for(run / "checkpoint.safetensors", process)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    step = load_checkpoint(run / "checkpoint.safetensors")[1]["step"]
    rows = _rows(run)
    assert step >= 3 and set(range(1, step + 1)) <= set(rows), (step, sorted(rows))
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


def test_sigterm_saves_flushes_and_exits_143(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    run = tmp_path / "run"
    process = _start_training(
        _train_args(
            _small_content(tmp_path, content_dir), eval_style, run, vgg_weights, 100000, "--workers", "1", "--checkpoint-every", "0"
        )
    )
    _wait_for(run / "metrics.csv", process)
    time.sleep(3)
    os.killpg(process.pid, signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "interrupted at step" in stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"] and set(_rows(run)) == set(range(1, summary["step"] + 1))


def test_normal_runs_keep_stderr_clean(photo: Path, tmp_path: Path, tiny_checkpoint: Path, vgg_weights: Path) -> None:
    """No third-party start-up noise (torchao, triton, pytree, torch.onnx, absl/oneDNN, LiteRT's XNNPACK note)."""
    env = {"MOBILESTYLE_CACHE": str(tmp_path / "cache")}  # a fresh conversion: the converters' own output too
    export = run_cli(
        "export",
        str(photo),
        "--format",
        "onnx,tflite",  # fp16 TFLite: the quantizer's own progress bar too
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(tmp_path / "models"),
        env=env,
    )
    assert export.returncode == 0 and export.stderr == "", export.stderr
    for model in ("photo.onnx", "photo.tflite"):
        run = run_cli("stylize", str(photo), "--model", str(tmp_path / "models" / model), "-o", str(tmp_path / f"{model}.png"))
        assert run.returncode == 0 and run.stderr == "", run.stderr
