"""Seconds per further style to verified model files, in one warm process (issue 3, item 5).

    python benchmarks/export_speed.py --checkpoint RUN/checkpoint.safetensors \
        --vgg-weights $MOBILESTYLE_SHARED/weights/vgg16_caffe_features.pth --styles $MOBILESTYLE_SHARED/data/eval/style

The first style pays for the conversions (or loads them from the template cache); every further style
is timed twice: to a verified .tflite alone and to all three formats. Writes
benchmarks/results/export_speed.json and .md (machine, versions, date). Targets: <= 1 s and <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"tflite": 1.0, "all": 3.0}


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), ""
    )
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
    }


def versions() -> dict:
    names = ("torch", "onnx", "onnxscript", "onnxruntime", "litert-torch", "ai-edge-litert", "ai-edge-quantizer", "coremltools")
    return {name: version(name) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="meta-network checkpoint (default: the shipped model)")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    parser.add_argument("--styles", type=Path, required=True, help="folder of style images")
    parser.add_argument("--count", type=int, default=5, help="further styles to time (after the first)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "int8"))
    parser.add_argument(
        "--style-size",
        type=int,
        default=256,
        help="short side the VGG encodes styles at (default 256, as a trained model; 0: the checkpoint's own)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    from mobilestyle.atomic import sha256_file
    from mobilestyle.export import FORMAT_NAMES, export
    from mobilestyle.images import load_image
    from mobilestyle.style_encoder import StyleNets

    torch.set_num_threads(os.cpu_count() or 1)
    styles = sorted(p for p in args.styles.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.count + 1]
    if len(styles) < 2:
        raise SystemExit(f"need at least 2 style images in {args.styles}")
    started = time.perf_counter()
    style_nets = StyleNets.load(args.checkpoint, args.vgg_weights)
    if args.style_size:
        style_nets.loaded.header["style_size"] = args.style_size

    def export_style(style: Path, formats: list[str], out_dir: Path) -> list:  # style image -> net -> files, as `export` does
        return export(
            style_nets.net(load_image(style)),
            formats=formats,
            sizes=[args.size],
            precision=args.precision,
            out_dir=out_dir,
            name=style.stem,
            style_sha256=sha256_file(style),
            extra_metadata=style_nets.provenance(),
        )

    load_seconds = time.perf_counter() - started
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        first = time.perf_counter()
        export_style(styles[0], list(FORMAT_NAMES), out)
        first_seconds = time.perf_counter() - first
        for style in styles[1:]:
            row: dict = {"style": style.name}
            tick = time.perf_counter()
            style_nets.net(load_image(style))
            row["emit_s"] = round(time.perf_counter() - tick, 3)  # image + VGG + meta network alone (also inside each total)
            for label, formats in (("tflite", ["tflite"]), ("all", list(FORMAT_NAMES))):
                tick = time.perf_counter()
                records = export_style(style, formats, out / label)
                row[label] = round(time.perf_counter() - tick, 3)
                row[f"{label}_per_format"] = {r.format: r.seconds for r in records}
                row[f"{label}_how"] = sorted({r.verification.rsplit("(", 1)[-1].rstrip(")") for r in records})
            rows.append(row)
            print(f"{style.name:28s} tflite {row['tflite']:.2f} s   all formats {row['all']:.2f} s", flush=True)
    summary = {
        label: {
            "median_s": round(statistics.median(r[label] for r in rows), 3),
            "max_s": max(r[label] for r in rows),
            "target_s": TARGETS[label],
        }
        for label in TARGETS
    }
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "size": args.size,
            "precision": args.precision,
            "checkpoint": str(args.checkpoint),
            "styles": len(rows),
            "style_size": style_nets.style_size,
        },
        "load_seconds": round(load_seconds, 2),
        "first_style_seconds": round(first_seconds, 2),
        "summary": summary,
        "per_style": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "export_speed.md").write_text(markdown(result))
    print(json.dumps(summary, indent=2))


def markdown(result: dict) -> str:
    m, s = result["machine"], result["summary"]
    lines = [
        "# Export speed: seconds per further style (one warm process)",
        "",
        f"{result['date']} · {m['cpu']} ({m['cpus']} CPUs, load average at start {m['load_average_at_start'][0]:.2f}) · "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
        "",
        f"Settings: {result['settings']}. Loading the meta network + VGG: {result['load_seconds']} s; first style "
        f"(conversions or template cache): {result['first_style_seconds']} s.",
        "",
        "| target | median s | max s | goal s |",
        "|---|---|---|---|",
        *(f"| {label} | {v['median_s']} | {v['max_s']} | {v['target_s']} |" for label, v in s.items()),
        "",
        "| style | to verified .tflite (s) | to all three formats (s) | of which per format (s) | style -> net alone (s) |",
        "|---|---|---|---|---|",
        *(f"| {r['style']} | {r['tflite']} | {r['all']} | {r['all_per_format']} | {r['emit_s']} |" for r in result["per_style"]),
        "",
        "Each timing includes the style -> net step (VGG + meta network), weight patching, writing and verification "
        "(onnxruntime / LiteRT vs PyTorch on a fixed test image; CoreML spec check, as CoreML predictions need macOS).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
