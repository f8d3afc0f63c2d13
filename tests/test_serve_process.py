"""`mobilestyle serve` as a real process on a free loopback port: SIGTERM finishes the request in flight, kill -9
mid-request leaves no partial entry and the restarted service still serves the finished ones."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
from serve_helpers import entry_folder, picture_bytes, wait_ready  # noqa: E402

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(
    cache: Path, vgg_weights: Path, delay_s: float = 0.0, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    port = free_port()
    env = {**os.environ, "MOBILESTYLE_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MOBILESTYLE_SERVE_BUILD_DELAY_S": str(delay_s)}
    args = ["serve", "--port", str(port), "--cache", str(cache), "--workers", "1", "--warm", "tflite", "--vgg-weights", str(vgg_weights)]
    out = open(log or os.devnull, "ab")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "mobilestyle", *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    try:
        wait_ready(client.get, timeout=300)
        yield process, client
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(30)
        out.close()


def post(client: httpx.Client, style: bytes, formats: str = "tflite") -> httpx.Response:
    return client.post("/v1/models", files={"style": ("s.png", style, "image/png")}, data={"formats": formats})


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_sigterm_finishes_in_flight_request(tmp_path: Path, vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    with server(cache, vgg_weights, delay_s=3.0, log=tmp_path / "log") as (process, client):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(post, client, picture_bytes(1), "onnx,tflite")
            time.sleep(1.5)  # the build is under way (3 s pause after each file)
            process.send_signal(signal.SIGTERM)
            response = answer.result(timeout=120)
        assert response.status_code == 201, response.text
        assert process.wait(60) in (0, 143)
    body = response.json()
    folder = entry_folder(cache, body["id"])
    for record in body["files"]:
        name = record["url"].rsplit("/", 1)[-1]
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == record["sha256"]
    assert leftovers(cache) == []


def test_kill9_mid_request_leaves_no_partial_entry(tmp_path: Path, vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    with server(cache, vgg_weights, delay_s=4.0, log=tmp_path / "log1") as (process, client):
        finished = post(client, picture_bytes(1)).json()  # built before the kill
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(post, client, picture_bytes(2), "onnx,tflite")
            deadline = time.monotonic() + 60
            while not leftovers(cache) and time.monotonic() < deadline:  # the entry is being written
                time.sleep(0.05)
            assert leftovers(cache), "the build never started"
            process.kill()
            with pytest.raises(httpx.HTTPError):
                answer.result(timeout=60)
    assert leftovers(cache)  # what the killed process was writing, under a temporary name
    shards = [p for p in cache.iterdir() if p.is_dir()]
    ids = [p.name for shard in shards for p in shard.iterdir() if not p.name.startswith(".")]
    assert ids == [finished["id"]]  # no partial entry in view

    with server(cache, vgg_weights, log=tmp_path / "log2") as (_, client):
        assert leftovers(cache) == []  # swept at start-up
        record = finished["files"][0]
        served = client.get(httpx.URL(record["url"]).path)  # the old port is gone: the same path on the new one
        assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == record["sha256"]
        assert post(client, picture_bytes(1)).json()["cached"] is True
        again = post(client, picture_bytes(2), "onnx,tflite")
        assert again.status_code == 201 and len(again.json()["files"]) == 2
