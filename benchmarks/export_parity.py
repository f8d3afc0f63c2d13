"""How far each exported file is from PyTorch, on real photos (issue 3, item 6).

    python benchmarks/export_parity.py --checkpoint RUN/checkpoint.safetensors [--compare-one-step-mean]

The exporter verifies every file on one fixed test image; this measures the same files on many eval photos.
For each style it writes ONNX fp32 and TFLite fp32 / fp16 / int8 files through ``export`` and runs them
(onnxruntime, LiteRT with XNNPACK, one thread) on ``--photos`` eval photos plus the exporter's test image,
against the style's net in PyTorch fp32 and float64. Targets (0..255 scale): fp32 max abs error <= 1e-3,
fp16 <= 1.0 and finite, int8 PSNR >= 30 dB against PyTorch fp32.

``--compare-one-step-mean`` also exports TFLite fp32 through the previous export graph (instance-norm means
in one step over H x W, GRAPH_VERSION 2), converted fresh, to show what the two-step means changed.
Styles and photos default to $MOBILESTYLE_SHARED/data/eval (style/, content/) when that is set. Writes
benchmarks/results/export_parity-SIZE.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ["MOBILESTYLE_SHARED"]) if os.environ.get("MOBILESTYLE_SHARED") else None
CASES = [("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8")]
CURRENT = "v3"  # export graph version 3: two-step means (TFLite: block averages first on planes over 128 x 128)
ONE_STEP = "v2 (one-step means)"
TARGETS = {"fp32": "max abs <= 1e-3", "fp16": "max abs <= 1.0, finite", "int8": "PSNR >= 30 dB"}


def photos(folder: Path, count: int, size: int) -> list[tuple[str, np.ndarray]]:
    """``count`` photos spread over ``folder`` (every n-th by name), centre-cropped to size x size, plus the test image."""
    from mobilestyle.export.verify import parity_image
    from mobilestyle.images import center_crop_square, load_image, resize_short_side

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step = max(len(files) // max(count, 1), 1)
    chosen = files[::step][:count]
    images = [(p.name, np.asarray(center_crop_square(resize_short_side(load_image(p), size), size), dtype=np.float32)) for p in chosen]
    return images + [("test_image", parity_image(size, size))]


@contextmanager
def one_step_means() -> Iterator[None]:
    """The export graph as GRAPH_VERSION 2 built it: each instance-norm mean in one step over H x W."""
    import torch.nn.functional as F

    from mobilestyle.export.graph import PlainInstanceNorm

    def mean(self: PlainInstanceNorm, x):  # noqa: ANN001, ANN202
        value = x.mean(dim=(2, 3), keepdim=True)
        return F.conv2d(value, self.phase_mean) if self.groups > 1 else value

    two_step = PlainInstanceNorm._mean
    PlainInstanceNorm._mean = mean
    try:
        yield
    finally:
        PlainInstanceNorm._mean = two_step


def measure(runner, images: list[tuple[str, np.ndarray]], fp32: list[np.ndarray], fp64: list[np.ndarray]) -> dict:
    """Errors of ``runner`` on each image against PyTorch fp32 and float64; ``checked`` is what ``export`` applies per
    image (the fp32 reference, or float64 where the fp32 reference is the farther one)."""
    from mobilestyle.export.verify import psnr

    errors, exact, psnrs, finite = [], [], [], True
    for (_, image), ref32, ref64 in zip(images, fp32, fp64):
        got = runner.run(image)
        finite = finite and bool(np.isfinite(got).all())
        errors.append(float(np.abs(got - ref32).max()))
        exact.append(float(np.abs(got - ref64).max()))
        psnrs.append(psnr(got, ref32))
    return summary(errors, exact) | {"min_psnr_db": round(min(psnrs), 2), "finite": finite}


def summary(errors: list[float], exact: list[float]) -> dict:
    return {
        "max_abs": max(errors),
        "median_abs": statistics.median(errors),
        "max_abs_vs_float64": max(exact),
        "median_abs_vs_float64": statistics.median(exact),
        "checked_max_abs": max(min(a, b) for a, b in zip(errors, exact)),
        "per_image_max_abs": [round(e, 6) for e in errors],
        "per_image_max_abs_vs_float64": [round(e, 6) for e in exact],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="meta-network checkpoint (default: the shipped model)")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    parser.add_argument(
        "--styles",
        type=Path,
        nargs="+",
        required=SHARED is None,
        default=SHARED and [SHARED / "data/eval/style/la_muse.jpg", SHARED / "data/eval/style/starry_night.jpg"],
    )
    parser.add_argument(
        "--content", type=Path, required=SHARED is None, default=SHARED and SHARED / "data/eval/content", help="folder of photos"
    )
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--compare-one-step-mean", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    from mobilestyle.bench.records import environment
    from mobilestyle.export import export, open_model, tflite_format
    from mobilestyle.export.graph import export_graph
    from mobilestyle.export.verify import TorchReference
    from mobilestyle.images import load_image
    from mobilestyle.style_encoder import StyleNets

    torch.set_num_threads(1)
    style_nets = StyleNets.load(args.checkpoint, args.vgg_weights)
    images = photos(args.content, args.photos, args.size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for style in args.styles:
            net = style_nets.net(load_image(style)).eval()
            reference = TorchReference(net)  # the exporter's own references: PyTorch fp32 and float64
            fp32 = [reference.run(im) for _, im in images]
            fp64 = [reference.exact().run(im) for _, im in images]
            own = [float(np.abs(a - b).max()) for a, b in zip(fp32, fp64)]  # the fp32 reference's own rounding
            rows.append(
                {
                    "style": style.stem,
                    "format": "pytorch",
                    "precision": "fp32",
                    "graph": "reference (TransformNet)",
                    "bytes": None,
                    **summary([0.0] * len(own), own),
                    "min_psnr_db": None,
                    "finite": True,
                }
            )
            cases = [(fmt, precision, CURRENT) for fmt, precision in CASES]
            cases += [("tflite", "fp32", ONE_STEP)] if args.compare_one_step_mean else []
            for fmt, precision, graph in cases:
                out_dir = Path(tmp) / style.stem / f"{fmt}-{precision}-{graph[:2]}"
                if graph == ONE_STEP:  # unverified (it would fail the 1e-3 gate), fresh: kept out of the template cache
                    path = out_dir / f"{style.stem}.tflite"
                    out_dir.mkdir(parents=True)
                    with one_step_means():
                        path.write_bytes(
                            next(iter(tflite_format.convert(export_graph(net, static_shapes=True), [args.size], precision).values()))
                        )
                    record_bytes = path.stat().st_size
                else:
                    (record,) = export(net, name=style.stem, formats=[fmt], sizes=[args.size], precision=precision, out_dir=out_dir)
                    path, record_bytes = Path(record.path), record.bytes
                row = {
                    "style": style.stem,
                    "format": fmt,
                    "precision": precision,
                    "graph": graph,
                    "bytes": record_bytes,
                    **measure(open_model(path, threads=1), images, fp32, fp64),
                }
                rows.append(row)
                print(
                    f"{style.stem:14s} {fmt:6s} {precision:4s} {graph:15s} max {row['max_abs']:.2e} median {row['median_abs']:.2e} "
                    f"(vs float64 {row['max_abs_vs_float64']:.2e})  PSNR >= {row['min_psnr_db']} dB",
                    flush=True,
                )
    result = {
        "environment": environment(),
        "settings": {
            "checkpoint": str(args.checkpoint),
            "size": args.size,
            "photos": [name for name, _ in images],
            "styles": [s.name for s in args.styles],
            "threads": 1,
        },
        "targets": TARGETS,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"export_parity-{args.size}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"export_parity-{args.size}.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    env, settings = result["environment"], result["settings"]
    lines = [
        "# Export parity on eval photos",
        "",
        f"{env['date']} · {env['machine']} · " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        f"{len(settings['photos']) - 1} eval photos + the exporter's test image at {settings['size']}², styles "
        f"{', '.join(settings['styles'])}, checkpoint {settings['checkpoint']}, one thread. Errors on the 0..255 scale.",
        "",
        "| style | file | graph | bytes | vs PyTorch fp32: max | median | vs float64: max | median | as `export` checks: max | "
        "min PSNR (dB) | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(row_markdown(r, result["targets"]) for r in result["rows"]),
        "",
        "*As `export` checks*: per photo the smaller of the two errors (the exporter passes an fp32 file when either is within",
        "the limit: it measures against float64 before failing it), then the worst photo.",
        "",
        "Per-photo errors are in the .json beside this file. The `pytorch fp32` rows are the reference itself against float64: where it is",
        "far off (an ill-conditioned photo for these weights), every fp32 file is measured against a noisy reference.",
        "",
    ]
    return "\n".join(lines)


def row_markdown(r: dict, targets: dict) -> str:
    if r["bytes"] is None:  # the PyTorch fp32 reference against float64
        return (
            f"| {r['style']} | {r['format']} {r['precision']} | {r['graph']} | — | — | — | {r['max_abs_vs_float64']:.2e} "
            f"| {r['median_abs_vs_float64']:.2e} | — | — | — |"
        )
    checked = f"{r['checked_max_abs']:.2e}" if r["precision"] == "fp32" else "—"
    return (
        f"| {r['style']} | {r['format']} {r['precision']} | {r['graph']} | {r['bytes']} | {r['max_abs']:.2e} | {r['median_abs']:.2e} "
        f"| {r['max_abs_vs_float64']:.2e} | {r['median_abs_vs_float64']:.2e} | {checked} | {r['min_psnr_db']} "
        f"| {targets[r['precision']]} |"
    )


if __name__ == "__main__":
    main()
