"""Load test of `mobilestyle serve` on loopback (issue 13): latency, throughput, errors, memory, overload shedding.

    OMP_NUM_THREADS=1 python benchmarks/serve_load.py [--requests 500] [--clients 16] [--new-styles 60] [--workers 2]

Starts the service in a subprocess on a free 127.0.0.1 port with a fresh cache folder, waits for /readyz, then:

1. mixed: ``--requests`` POST /v1/models from ``--clients`` concurrent clients, ``--new-styles`` distinct new styles
   spread through the run, the rest repeats of styles already sent; every answer's file is downloaded and its sha256
   checked against the answer. p50/p95/p99 per kind (new build, repeat), throughput, errors by status.
2. new styles only: ``--burst`` more distinct styles from ``--clients`` clients: verified .tflite files per second.
3. overload: 4x ``--clients`` clients send new styles at once: the service must shed with 503 + Retry-After (no
   other 5xx), then answer every request of a light phase afterwards (recovery).

RSS of the service process (VmRSS) is read after start-up and after each phase. Bounded: at most ``--max-seconds``
in all (each phase stops early past it), requests only to 127.0.0.1. Styles are synthetic (seeded colour fields,
256 px JPEGs, ~20 KB), so the run needs no data set. Writes benchmarks/results/serve_load.json and .md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results"


def style_bytes(seed: int, side: int = 256) -> bytes:
    rng = np.random.default_rng(seed)
    cells = int(rng.integers(3, 12))
    small = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(values), "p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "max_ms": round(ordered[-1] * 1000, 1)}


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"new": [], "repeat": [], "repeat_joined": []}
        self.server_ms: dict[str, list[float]] = {}
        self.status: dict[str, int] = {}
        self.sha_failures = 0
        self.transport_errors = 0
        self.retry_after: list[str] = []

    def add(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.status[str(status)] = self.status.get(str(status), 0) + 1
            if status in (200, 201):
                self.latency[kind].append(seconds)


def one_request(client: httpx.Client, planned: str, style: bytes, recorder: Recorder, download: bool = True) -> None:
    """One POST (+ the file's download and sha256 check). Kinds: new (a style not sent before), repeat (answered from
    the cache), repeat_joined (sent again while its first build was still running: it waits for that build)."""
    start = time.perf_counter()
    try:
        response = client.post("/v1/models", files={"style": ("style.jpg", style, "image/jpeg")})
    except httpx.HTTPError:
        with recorder.lock:
            recorder.transport_errors += 1
        return
    seconds = time.perf_counter() - start
    kind = "new" if planned == "new" else ("repeat" if response.status_code == 200 else "repeat_joined")
    recorder.add(kind, seconds, response.status_code)
    if response.status_code == 201:
        with recorder.lock:
            for key, value in response.json()["timings"].items():
                recorder.server_ms.setdefault(key, []).append(value)
    if response.status_code == 503:
        with recorder.lock:
            recorder.retry_after.append(response.headers.get("retry-after", ""))
    if download and response.status_code in (200, 201):
        for record in response.json()["files"]:
            data = client.get(record["url"]).content
            if hashlib.sha256(data).hexdigest() != record["sha256"] or len(data) != record["bytes"]:
                with recorder.lock:
                    recorder.sha_failures += 1


def run_phase(base: str, styles: list[tuple[str, bytes]], clients: int, deadline: float, download: bool = True) -> tuple[Recorder, float]:
    recorder = Recorder()
    queue = list(styles)
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(base_url=base, timeout=300) as client:
            while time.monotonic() < deadline:
                with lock:
                    if not queue:
                        return
                    planned, style = queue.pop(0)
                one_request(client, planned, style, recorder, download)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client_loop) for _ in range(clients)]:
            future.result()
    return recorder, time.perf_counter() - start


def mixed_plan(requests: int, new_styles: int, seed: int) -> list[tuple[str, int]]:
    """``requests`` (kind, style seed): the new styles spread evenly, each repeat one of the styles sent before it."""
    rng = random.Random(seed)
    new_at = set(np.linspace(0, requests - 1, new_styles).round().astype(int).tolist())
    plan: list[tuple[str, int]] = []
    sent: list[int] = []
    for i in range(requests):
        if i in new_at or not sent:
            seed = 10_000 + len(sent)
            plan.append(("new", seed))
            sent.append(seed)
        else:
            plan.append(("repeat", rng.choice(sent)))
    return plan


def summary(recorder: Recorder, seconds: float) -> dict:
    done = sum(len(v) for v in recorder.latency.values())
    return {
        "seconds": round(seconds, 1),
        "status_counts": dict(sorted(recorder.status.items())),
        "errors_5xx_other_than_503": sum(n for s, n in recorder.status.items() if s.startswith("5") and s != "503"),
        "shed_503": recorder.status.get("503", 0),
        "transport_errors": recorder.transport_errors,
        "sha256_failures": recorder.sha_failures,
        "throughput_rps": round(done / seconds, 2) if seconds else None,
        "new_per_s": round(len(recorder.latency["new"]) / seconds, 2) if seconds else None,
        "latency_new": percentiles(recorder.latency["new"]),
        "latency_repeat": percentiles(recorder.latency["repeat"]),
        "latency_repeat_joined": percentiles(recorder.latency["repeat_joined"]),
        "server_timings_median_ms": {k: round(statistics.median(v), 1) for k, v in recorder.server_ms.items()},
        "retry_after_values": sorted(set(recorder.retry_after)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--new-styles", type=int, default=60)
    parser.add_argument("--burst", type=int, default=40, help="new styles in the throughput phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=1500)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load")
    args = parser.parse_args()
    limit = time.monotonic() + args.max_seconds

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cache = Path(tempfile.mkdtemp(prefix="mobilestyle-serve-load."))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mobilestyle", "serve", "--port", str(port), "--cache", str(cache), "--workers", str(args.workers)]
    if args.queue is not None:
        command += ["--queue", str(args.queue)]
    log = open(cache.with_suffix(".log"), "wb")  # noqa: SIM115
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=base, timeout=10) as probe:
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"the service exited ({server.returncode}); log: {log.name}")
                try:
                    if probe.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        results: dict = {"start_to_ready_s": round(time.perf_counter() - started, 1)}
        results["rss_mb"] = {"ready": rss_mb(server.pid)}
        with httpx.Client(base_url=base, timeout=300) as client:  # one build and one repeat: first-use costs out of the numbers
            for _ in range(2):
                client.post("/v1/models", files={"style": ("s.jpg", style_bytes(1), "image/jpeg")})
        results["rss_mb"]["before"] = rss_mb(server.pid)

        plan = mixed_plan(args.requests, args.new_styles, seed=0)
        recorder, seconds = run_phase(base, [(kind, style_bytes(seed)) for kind, seed in plan], args.clients, limit)
        results["mixed"] = {"requests": len(plan), "new_styles": sum(k == "new" for k, _ in plan), "clients": args.clients}
        results["mixed"].update(summary(recorder, seconds))
        results["rss_mb"]["after_mixed"] = rss_mb(server.pid)

        burst = [("new", style_bytes(50_000 + i)) for i in range(args.burst)]
        recorder, seconds = run_phase(base, burst, args.clients, limit)
        results["new_styles_only"] = {"requests": len(burst), "clients": args.clients, **summary(recorder, seconds)}
        results["rss_mb"]["after_new_styles"] = rss_mb(server.pid)

        overload = [("new", style_bytes(80_000 + i)) for i in range(8 * args.clients)]
        recorder, seconds = run_phase(base, overload, 4 * args.clients, limit, download=False)
        results["overload"] = {"requests": len(overload), "clients": 4 * args.clients, **summary(recorder, seconds)}
        time.sleep(2)
        light = [("new", style_bytes(90_000 + i)) for i in range(10)]
        recorder, seconds = run_phase(base, light, 2, limit)
        results["recovery"] = {"requests": len(light), "clients": 2, **summary(recorder, seconds)}
        results["rss_mb"]["after"] = rss_mb(server.pid)
        with httpx.Client(base_url=base, timeout=10) as client:
            metrics = client.get("/metrics").text
        results["service_metrics"] = {
            line.split()[0]: float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith(("mobilestyle_cache_", "mobilestyle_pool_rejected"))
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    before = results["rss_mb"]["before"]
    results["rss_growth_pct"] = round(100 * (results["rss_mb"]["after_mixed"] - before) / before, 1)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "workers": args.workers,
        "loadavg_at_end": os.getloadavg(),
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report(results))
    print(report(results))


def report(r: dict) -> str:
    rows = [
        "| phase | requests | clients | s | req/s | new/s | new p50/p95/p99 ms | repeat p50/p95/p99 ms | 503 | other 5xx | sha256 fail |"
    ]
    rows.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for phase in ("mixed", "new_styles_only", "overload", "recovery"):
        p = r[phase]
        new, rep = p["latency_new"], p["latency_repeat"]
        rows.append(
            f"| {phase} | {p['requests']} | {p['clients']} | {p['seconds']} | {p['throughput_rps']} | {p['new_per_s']} | "
            f"{new['p50_ms']}/{new['p95_ms']}/{new['p99_ms']} | {rep['p50_ms']}/{rep['p95_ms']}/{rep['p99_ms']} | "
            f"{p['shed_503']} | {p['errors_5xx_other_than_503']} | {p['sha256_failures']} |"
        )
    rss = r["rss_mb"]
    lines = [
        "# `mobilestyle serve` load test (benchmarks/serve_load.py)",
        "",
        *rows,
        "",
        "new: a style not sent before; repeat: answered from the cache; a repeat sent while its style's first build was still",
        "running waits for that build (single flight): "
        + ", ".join(
            f"{ph} {r[ph]['latency_repeat_joined']['n']} such (p50 {r[ph]['latency_repeat_joined']['p50_ms']} ms)" for ph in ("mixed",)
        )
        + ".",
        "Server-side medians of a build (ms): "
        + "; ".join(
            f"{ph}: " + ", ".join(f"{k} {v}" for k, v in r[ph]["server_timings_median_ms"].items()) for ph in ("mixed", "new_styles_only")
        ),
        "",
        f"Start to ready: {r['start_to_ready_s']} s. RSS (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()),
        f"(growth over the mixed phase {r['rss_growth_pct']} %).",
        f"Machine: {r['machine']['cpus']} CPUs, {r['machine']['workers']} workers; {r['machine']['note']}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
