"""Padding speed: random-weight 8-base nets with zero / reflect / prepad padding, timed interleaved.

    python benchmarks/padding_speed.py [--size 256] [--threads 1,2] [--repeats 40] [--graph plain,export] [--out FILE.json]

Each padding variant is converted by the project's format converters (mobilestyle.export.onnx_format: torch.onnx
dynamo, dynamic H/W; tflite_format: litert-torch, NHWC I/O, one signature per size), as the
plain TransformNet and as export_graph(net) (the form shipped files use); all files of one thread count are
timed round-robin in one run (onnxruntime, LiteRT with XNNPACK), so the medians and the ratios against zero
padding (same graph, same runtime) share the machine's noise.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from mobilestyle.bench.invokes import onnx_invoke, tflite_invoke
from mobilestyle.bench.records import environment
from mobilestyle.bench.timing import time_interleaved
from mobilestyle.export import onnx_format, tflite_format
from mobilestyle.export.graph import export_graph
from mobilestyle.export.model_format import signature_name
from mobilestyle.transformer import NetConfig, TransformNet, macs

PADDINGS = ("zero", "reflect", "prepad")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--graph", default="plain,export", help="plain (the TransformNet itself), export (export_graph(net)) or both")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, Path] = {}
        for graph in args.graph.split(","):
            for padding in PADDINGS:
                net = TransformNet(NetConfig(padding=padding)).eval()
                module = export_graph(net) if graph == "export" else net
                for fmt, data in ((f.name, f.convert(module, [args.size], "fp32")) for f in (onnx_format.FORMAT, tflite_format.FORMAT)):
                    path = Path(tmp) / f"{padding}-{graph}.{fmt}"
                    path.write_bytes(next(iter(data.values())))
                    files[f"{padding}/{graph}/{fmt}"] = path
        for threads in (int(t) for t in args.threads.split(",")):
            invokes = {
                key: tflite_invoke(path, threads, signature_name(args.size, args.size))
                if key.endswith("tflite")
                else onnx_invoke(path, (args.size, args.size), threads)
                for key, path in files.items()
            }
            timings = time_interleaved(invokes, args.repeats)
            for key, timing in timings.items():
                padding, graph, runtime = key.split("/")
                zero = timings[f"zero/{graph}/{runtime}"].median_ms
                rows.append(
                    {
                        "padding": padding,
                        "graph": graph,
                        "runtime": runtime,
                        "threads": threads,
                        "size": args.size,
                        "median_ms": round(timing.median_ms, 2),
                        "p90_ms": round(timing.p90_ms, 2),
                        "vs_zero": round(timing.median_ms / zero, 2),
                        "gmacs": round(macs(NetConfig(padding=padding), args.size, args.size) / 1e9, 3),
                    }
                )
    print(f"{'padding':8s} {'graph':6s} {'runtime':7s} {'thr':>3s} {'median ms':>10s} {'p90 ms':>8s} {'x zero':>7s} {'GMAC':>6s}")
    for r in rows:
        print(
            f"{r['padding']:8s} {r['graph']:6s} {r['runtime']:7s} {r['threads']:3d} {r['median_ms']:10.2f} {r['p90_ms']:8.2f} "
            f"{r['vs_zero']:7.2f} {r['gmacs']:6.3f}"
        )
    if args.out:
        meta = {**environment(), "graph": args.graph, "repeats": args.repeats}
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
