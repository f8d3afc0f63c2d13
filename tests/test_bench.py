"""`mobilestyle bench` end to end at tiny sizes (no timing assertions: speed lives in benchmarks/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli, shared_path

from mobilestyle.bench.harness import BenchOptions, compare, run_bench
from mobilestyle.bench.records import BenchRecord
from mobilestyle.bench.timing import Timing, time_interleaved
from mobilestyle.commands.bench import _int_list
from mobilestyle.errors import MobilestyleError


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, vgg_weights: Path) -> tuple[dict, Path]:
    """One real run: random 8-base net exported through mobilestyle.export, ORT + LiteRT fp32 + Magenta, style side on."""
    peers = shared_path("peers", "magenta")
    out = tmp_path_factory.mktemp("bench")
    result = run_cli(
        "bench",
        "--sizes",
        "64",
        "--threads",
        "1",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--runtimes",
        "torch,onnxruntime,litert-fp32,magenta",
        "--peers",
        str(peers),
        "--vgg-weights",
        str(vgg_weights),
        "--json",
        str(out / "bench.json"),
        "--report",
        str(out / "report"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), out


@pytest.mark.slow
def test_json_holds_onnxruntime_litert_and_magenta_records(bench_run) -> None:
    data, _ = bench_run
    inference = [r for r in data["records"] if r["kind"] == "inference"]
    runtimes = {(r["runtime"], r["model"].split("-")[0]) for r in inference}
    assert {("onnxruntime", "ours"), ("litert", "ours"), ("torch", "ours"), ("litert", "magenta")} <= runtimes
    for record in inference:
        assert record["repeats"] == 2 and record["median_ms"] > 0 and record["p90_ms"] >= record["median_ms"] - 1e-9
        assert record["images_per_s"] == pytest.approx(1000.0 / record["median_ms"], rel=0.02)
    ours = [r for r in inference if r["model"] == "ours-b8"]
    assert all(r["gmacs"] > 0 and r["gflops"] > 0 and r["pct_of_peak"] > 0 for r in ours)
    assert all(r["model_bytes"] > 0 for r in ours if r["runtime"] != "torch")
    assert data["meta"]["weights"].startswith("random")
    assert data["meta"]["versions"]["export_graph"] >= 1 and data["meta"]["peak_gflops"]["1"] > 0
    # LiteRT vs onnxruntime ratio measured in the same loop
    assert any(c["note"] == "LiteRT / onnxruntime" and c["ratio"] > 0 for c in data["comparisons"])


@pytest.mark.slow
def test_style_side_and_report(bench_run) -> None:
    data, out = bench_run
    style = {r["model"]: r for r in data["records"] if r["kind"] == "style"}
    assert {"meta-forward", "magenta-predict-int8", "export-path"} <= set(style)
    assert any("Magenta style predict" in c["note"] for c in data["comparisons"])
    report = out / "report"
    assert (report / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (report / "bench.md").read_text()
    assert "| inference | ours-b8 | litert |" in text and "latency.png" in text
    assert json.loads((report / "bench.json").read_text())["records"]


def test_cuda_is_refused_cleanly_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(MobilestyleError, match="--device cuda"):
        run_bench(BenchOptions(device="cuda", sizes=[64], threads=[1]))
    result = run_cli("bench", "--device", "cuda", "--sizes", "64")
    assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"sizes": [63]}, "multiples of 4"),
        ({"threads": [0]}, "--threads"),
        ({"runtimes": ["tensorflow"]}, "unknown runtime"),
        ({"model_file": Path("missing.onnx")}, "no such file"),
        ({"repeats": 0}, "--repeats"),
    ],
)
def test_bad_options_are_user_errors(changes: dict, message: str) -> None:
    with pytest.raises(MobilestyleError, match=message):
        run_bench(BenchOptions(**{"sizes": [64], "threads": [1], **changes}))
    with pytest.raises(MobilestyleError, match="--threads"):
        _int_list("1,x", "--threads")


def test_interleaved_timing_and_ratios() -> None:
    calls: list[str] = []
    timings = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=4, warmup=1)
    assert calls.count("a") == calls.count("b") == 5 and set(timings) == {"a", "b"}
    assert calls[2:4] == ["a", "b"] and calls[4:6] == ["b", "a"]  # the order rotates every round
    fields = dict(kind="inference", device="cpu", height=384, width=384, threads=1, weights="x")
    ours = BenchRecord.from_timing(Timing(10.0, 12.0, 9.0, 4), model="ours-b8", runtime="litert", precision="fp32", gmacs=1.0, **fields)
    peer = BenchRecord.from_timing(Timing(50.0, 60.0, 45.0, 4), model="magenta-transfer-int8", runtime="litert", precision="int8", **fields)
    ours.set_throughput(1.0, 100.0)
    assert ours.gflops == pytest.approx(200.0) and ours.pct_of_peak == pytest.approx(200.0)
    assert ours.best_gflops == pytest.approx(2.0 / 0.009, rel=1e-3)
    (comparison,) = compare([ours, peer])
    assert comparison.ratio == pytest.approx(0.2) and "Magenta" in comparison.note


def test_settle_pause_runs_between_calls_and_is_not_timed() -> None:
    """The pause that lets spinning worker threads go idle sits between calls, outside every timed sample."""
    import time

    stamps: list[float] = []
    timings = time_interleaved(
        {"a": lambda: stamps.append(time.perf_counter()), "b": lambda: stamps.append(time.perf_counter())},
        repeats=3,
        warmup=0,
        settle_s=0.02,
    )
    assert min(b - a for a, b in zip(stamps, stamps[1:])) >= 0.02
    assert max(t.median_ms for t in timings.values()) < 10.0


def test_model_file_is_timed_at_its_own_size(shared: Path) -> None:
    """--model with a foreign single-size .tflite (Magenta's transfer net): timed once, at 384x384, precision unknown."""
    transfer = shared_path("peers", "magenta", "style_transfer_quantized_384.tflite")
    result = run_bench(BenchOptions(model_file=transfer, sizes=[64, 128], threads=[1], repeats=2, warmup=1, runtimes=["litert-fp32"]))
    (record,) = result.records
    assert (record.runtime, record.height, record.width, record.precision) == ("litert", 384, 384, "unknown")
    assert record.model_bytes == transfer.stat().st_size and record.weights == f"file {transfer.name}" and record.gmacs is None
