"""Bench output: the terminal table, the markdown report and the latency-vs-size plot."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mobilestyle.atomic import atomic_write_bytes, ensure_writable_dir
from mobilestyle.bench.records import BenchRecord, BenchResult
from mobilestyle.errors import MissingBackendError

COLUMNS = ("kind", "model", "runtime", "precision", "size", "thr", "median ms", "p90 ms", "min ms", "img/s", "GFLOP/s", "% peak", "bytes")


def _row(record: BenchRecord) -> list[str]:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    return [
        record.kind,
        record.model,
        record.runtime,
        record.precision,
        f"{record.height}x{record.width}",
        str(record.threads),
        num(record.median_ms, ".2f"),
        num(record.p90_ms, ".2f"),
        num(record.min_ms, ".2f"),
        num(record.images_per_s, ".1f"),
        num(record.gflops, ".1f"),
        num(record.pct_of_peak, ".1f"),
        "-" if record.model_bytes is None else f"{record.model_bytes:,}",
    ]


def table(result: BenchResult) -> str:
    """Fixed-width text table of every record, then the ratios and anything skipped."""
    rows = [list(COLUMNS)] + [_row(r) for r in result.records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) if i >= 4 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if result.comparisons:
        lines += ["", "ratios (ours / reference, medians from one interleaved loop; < 1 = ours faster):"]
        lines += [f"  {c.ours}  /  {c.reference}  @ {c.height}x{c.width}, {c.threads}t:  {c.ratio:.2f}" for c in result.comparisons]
    peaks = result.meta.get("peak_gflops")
    if peaks:
        lines += ["", "sgemm peak GFLOP/s: " + ", ".join(f"{t} thread(s) {v}" for t, v in peaks.items())]
    lines += ["weights: " + str(result.meta.get("weights", "?"))]
    if result.skipped:
        lines += ["", "skipped:"] + [f"  {s}" for s in result.skipped]
    return "\n".join(lines)


def markdown(result: BenchResult, plot_name: str | None) -> str:
    meta = result.meta
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items() if v is not None)
    lines = [
        "# mobilestyle bench",
        "",
        f"- date: {meta.get('date')}",
        f"- machine: {meta.get('machine')} ({meta.get('cpu_count')} CPUs), {meta.get('platform')}",
        f"- load average at start: {meta.get('load_average')}",
        f"- versions: {versions}",
        f"- weights: {meta.get('weights')}",
        f"- sgemm peak GFLOP/s per thread count: {meta.get('peak_gflops')}",
        f"- options: `{json.dumps(meta.get('options', {}))}`",
        "",
        "Batch 1; medians and p90 of interleaved runs (every candidate of a size / thread group runs round-robin). "
        "GFLOP/s counts 2 FLOP per multiply-accumulate of the net's convs over the median latency; % peak is against the best "
        "sgemm run at the same thread count (alone or in the same loop). On a loaded machine medians are inflated: min ms is what "
        "the hardware gives when the core is free. Field definitions: docs/bench.md.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in result.records]
    if result.comparisons:
        lines += [
            "",
            "## Ratios (ours / reference, same loop)",
            "",
            "| ours | reference | size | threads | ratio |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {c.ours} | {c.reference} | {c.height}x{c.width} | {c.threads} | {c.ratio:.2f} |" for c in result.comparisons]
    notes = [f"- {r.model} ({r.runtime}): {r.note}" for r in result.records if r.kind != "inference" and r.note]
    if notes:
        lines += ["", "## Notes", ""] + notes
    if result.skipped:
        lines += ["", "## Skipped", ""] + [f"- {s}" for s in result.skipped]
    if plot_name:
        lines += ["", f"![latency vs size]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot_png(result: BenchResult) -> bytes:
    """Latency (median ms, log scale) against image side, one line per runtime x precision x threads."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingBackendError("matplotlib", "report") from None
    series: dict[str, list[tuple[int, float]]] = {}
    for record in result.records:
        if record.kind == "inference":
            label = f"{record.model} {record.runtime} {record.precision} {record.threads}t"
            series.setdefault(label, []).append((record.height, record.median_ms))
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for label, points in sorted(series.items()):
        points.sort()
        style = "s--" if label.startswith("magenta") else "o-"
        axes.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
    axes.set_xlabel("image side (px)")
    axes.set_ylabel("median latency (ms, batch 1)")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title(f"mobilestyle bench — {result.meta.get('machine', '')}"[:90], fontsize=9)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def write_json(result: BenchResult, path: Path) -> Path:
    atomic_write_bytes(Path(path), (json.dumps(result.to_dict(), indent=1) + "\n").encode())
    return Path(path)


def write_report(result: BenchResult, directory: Path) -> list[Path]:
    """DIR/bench.md + DIR/latency.png + DIR/bench.json."""
    directory = ensure_writable_dir(Path(directory))
    atomic_write_bytes(directory / "latency.png", plot_png(result))
    atomic_write_bytes(directory / "bench.md", markdown(result, "latency.png").encode())
    return [directory / "latency.png", directory / "bench.md", write_json(result, directory / "bench.json")]
