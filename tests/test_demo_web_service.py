"""The browser demo's "your own style" end to end: `mobilestyle serve --cors-origin <page>` on a free loopback port,
the page (another origin) in headless Chromium uploads a style picture to POST /v1/models, downloads the .onnx /
.tflite the service built and runs it in WASM. Its output must match the Python runtime on the same downloaded file.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from serve_helpers import picture_bytes, wait_ready
from test_demo_web import CHROMIUM, MAX_ABS_DIFF, SIDE, WEB, check_kept_colors, check_kept_detail, decode, require_browser_stack
from test_serve_process import free_port

from mobilestyle.export import open_model
from mobilestyle.images import center_crop_square, load_image

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


@contextlib.contextmanager
def service(cache: Path, vgg_weights: Path, origin: str, log: Path) -> Iterator[httpx.Client]:
    port = free_port()
    args = ["serve", "--port", str(port), "--cache", str(cache), "--workers", "1", "--warm", "onnx,tflite"]
    args += ["--vgg-weights", str(vgg_weights), "--cors-origin", origin]
    env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "mobilestyle", *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        try:
            wait_ready(client.get, timeout=300)
            yield client
        finally:
            client.close()
            process.terminate()
            process.wait(60)


def test_page_runs_a_model_built_by_the_service(shared: Path, vgg_weights: Path, tmp_path: Path) -> None:
    node = require_browser_stack()
    photo, style = tmp_path / "photo.png", tmp_path / "style.png"
    load_image(shared / "data" / "eval" / "content" / "golden_gate.jpg").save(photo)
    style.write_bytes(picture_bytes(13, side=128))
    (tmp_path / "no_models").mkdir()  # no bundle: the page starts with "upload a style"
    page_port = free_port()
    with service(tmp_path / "cache", vgg_weights, f"http://127.0.0.1:{page_port}", tmp_path / "serve.log") as client:
        command = [node, "e2e.mjs", "--models", str(tmp_path / "no_models"), "--photo", str(photo), "--out", str(tmp_path / "e2e")]
        command += ["--service", str(client.base_url).rstrip("/"), "--style-image", str(style), "--port", str(page_port)]
        command += ["--runtimes", "onnx,tflite", "--threads", "1", "--runs", "1", "--size", str(SIDE), "--chromium", str(CHROMIUM)]
        run = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=300)
        result_file = tmp_path / "e2e" / "result.json"
        summary = json.loads(result_file.read_text()) if result_file.is_file() else {}
        assert run.returncode == 0, run.stdout + run.stderr + json.dumps(summary.get("results"))[:4000]
        (model_id,) = {record["model_id"] for record in summary["results"]}
        files = {}
        for record in client.get(f"/v1/models/{model_id}").json()["files"]:
            files[record["format"]] = tmp_path / f"model.{record['format']}"
            files[record["format"]].write_bytes(client.get(record["url"]).content)
    expected_input = np.asarray(center_crop_square(load_image(photo), SIDE))
    for record in summary["results"]:
        page_input, page_output = decode(record)
        assert np.array_equal(page_input, expected_input)
        reference = open_model(files[record["runtime"]], threads=1).run(expected_input.astype(np.float32))
        diff = float(np.abs(page_output - reference).max())
        assert diff <= MAX_ABS_DIFF, f"{record['runtime']}: the page's output differs from Python by {diff}"
        check_kept_colors(record, page_input, page_output)
        check_kept_detail(record, page_input, page_output)
