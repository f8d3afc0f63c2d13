"""Benchmark latency, throughput and size of the style net across runtimes, against the Magenta peer.

Exports the net once (trained: --checkpoint + --style; otherwise random weights, said in the output),
then times PyTorch, onnxruntime and LiteRT (XNNPACK, fp32 / fp16 / int8) interleaved with Magenta's
TFLite style-transfer net, batch 1, after a warm-up; reports median, p90, images/s, GFLOP/s and % of
the measured sgemm peak, file sizes, the style side (meta-network forward, export per new style) and
ratios measured in one loop. Field names of --json: docs/bench.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mobilestyle.atomic import check_output_dir, check_output_file
from mobilestyle.bench.harness import DEFAULT_RUNTIMES, BenchOptions, run_bench
from mobilestyle.bench.report import table, write_json, write_report
from mobilestyle.commands.options import checkpoint_option, vgg_weights_option
from mobilestyle.errors import MobilestyleError


def _int_list(value: str, option: str) -> list[int]:
    try:
        items = [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise MobilestyleError(f"{option} takes comma-separated integers, not {value!r}") from None
    if not items:
        raise MobilestyleError(f"{option} needs at least one value")
    return list(dict.fromkeys(items))


def _check_outputs(json_path: Path | None, report_dir: Path | None) -> None:
    if json_path is not None:
        check_output_file(json_path)
    if report_dir is not None:
        check_output_dir(report_dir)


@click.command(help=__doc__)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="cpu: PyTorch, onnxruntime, LiteRT, Magenta. cuda: PyTorch CUDA and onnxruntime's CUDA provider.",
)
@click.option("--sizes", default="256,384,512", show_default=True, help="Square image sides, comma-separated (multiples of 4).")
@click.option("--threads", default="1,2", show_default=True, help="CPU thread counts, comma-separated.")
@click.option(
    "--runtimes",
    default=None,
    help="Comma-separated subset of: torch, torch-compile, onnxruntime, litert-fp32, litert-fp16, "
    "litert-int8, magenta. Default: all but torch-compile.",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Time this exported .onnx / .tflite file instead of exporting a net.",
)
@checkpoint_option
@click.option(
    "--style",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Style image for the trained net (with the checkpoint). Without it the net has random weights.",
)
@vgg_weights_option
@click.option(
    "--peers",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the Magenta TFLite models (or a folder holding magenta/). Default: $MOBILESTYLE_PEERS.",
)
@click.option("--base", type=click.Choice(["8", "16", "32"]), default="8", show_default=True, help="Width of the random-weight net.")
@click.option(
    "--padding",
    type=click.Choice(["zero", "reflect", "prepad"]),
    default="zero",
    show_default=True,
    help="Padding of the random-weight net.",
)
@click.option("--repeats", type=int, default=30, show_default=True, help="Timed runs per candidate (after the warm-up).")
@click.option("--warmup", type=int, default=3, show_default=True, help="Untimed runs per candidate first.")
@click.option(
    "--style-side/--no-style-side", default=True, show_default=True, help="Time the meta-network forward and the export path per style."
)
@click.option("--baselines", is_flag=True, help="Also time Johnson training and Gatys optimization steps (extrapolated to a full run).")
@click.option("--baseline-steps", type=int, default=3, show_default=True, help="Steps timed per baseline.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every record as JSON here ('-' for stdout).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write bench.md, latency.png and bench.json into this folder.",
)
def command(
    device: str,
    sizes: str,
    threads: str,
    runtimes: str | None,
    model_file: Path | None,
    checkpoint: Path | None,
    style: Path | None,
    vgg_weights: Path | None,
    peers: Path | None,
    base: str,
    padding: str,
    repeats: int,
    warmup: int,
    style_side: bool,
    baselines: bool,
    baseline_steps: int,
    json_path: Path | None,
    report_dir: Path | None,
) -> None:
    options = BenchOptions(
        device=device,
        sizes=_int_list(sizes, "--sizes"),
        threads=_int_list(threads, "--threads"),
        runtimes=[r.strip() for r in runtimes.split(",") if r.strip()] if runtimes else list(DEFAULT_RUNTIMES),
        model_file=model_file,
        checkpoint=checkpoint,
        style=style,
        vgg_weights=vgg_weights,
        peers=peers,
        base=int(base),
        padding=padding,
        repeats=repeats,
        warmup=warmup,
        style_side=style_side,
        baselines=baselines,
        baseline_steps=baseline_steps,
    )
    to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs(None if to_stdout else json_path, report_dir)  # before minutes of timing, not after
    result = run_bench(options, log=lambda message: click.echo(message, err=True))
    if to_stdout:
        click.echo(json.dumps(result.to_dict(), indent=1))
    else:
        click.echo(table(result))
        if json_path is not None:
            click.echo(f"wrote {write_json(result, json_path)}", err=True)
    if report_dir is not None:
        for path in write_report(result, report_dir):
            click.echo(f"wrote {path}", err=True)
