"""`mobilestyle train`: Shen's meta network by default; other methods plug into the same loop."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import click

from mobilestyle.commands.options import vgg_weights_option
from mobilestyle.losses import LossWeights
from mobilestyle.training.loop import TrainOptions, build_context, run_training

METHODS = {
    "shen": ("mobilestyle.training.shen", "ShenMethod"),
    "johnson": ("mobilestyle.training.johnson", "JohnsonMethod"),
    "metastyle": ("mobilestyle.training.metastyle", "MetaStyleMethod"),
    "shen-fast": ("mobilestyle.training.shen_fast", "ShenFastMethod"),
}
# Defaults of the options left as None below; a method module may override them with its own TRAIN_DEFAULTS dict.
DEFAULTS = {
    "arch": "8",
    "padding": "zero",
    "lr": 1e-3,
    "batch_size": 8,
    "content_weight": 1.0,
    "style_weight": 50.0,
    "tv_weight": 1e-6,
    "content_layer": "relu3_3",
    "structure_weight": 0.0,
    "structure_layer": "relu2_2",
    "style_loss": "meanstd",
}
METASTYLE_KEYS = ("inner_steps", "inner_lr", "first_order", "styles_per_batch", "inner_params")
FAST_KEYS = (
    "teacher_steps",
    "teacher_pairs",
    "final_size",
    "final_steps",
    "head_gain",
    "bf16",
    "data_cache",
    "magenta_peers",
    "style_variants",
    "synthetic_styles",
    "style_noise",
    "style_balance",
    "max_crop_scale",
    "init",
    "style_statistics",
    "lr_decay_steps",
)


@click.command(help=__doc__)
@click.option(
    "--content",
    "content_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of content photos (searched recursively).",
)
@click.option(
    "--style",
    "style_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of style images (or one image for --method johnson).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder: checkpoint, metrics.csv, samples/.",
)
@click.option("--method", type=click.Choice(list(METHODS)), default="shen", show_default=True, help="Training method.")
@click.option(
    "--steps", type=click.IntRange(1), default=1000, show_default=True, help="Total iterations (a resumed run continues to this count)."
)
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Content images per batch.  [default: 8; metastyle: 4]")
@click.option("--image-size", type=click.IntRange(16), default=256, show_default=True, help="Training crop side (multiple of 4).")
@click.option("--style-size", type=click.IntRange(16), default=None, help="Short side of style images (default: --image-size).")
@click.option("--lr", type=float, default=None, help="Adam learning rate (MetaStyle: the outer loop's).  [default: 1e-3; metastyle: 1e-5]")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--style-every", type=click.IntRange(1), default=20, show_default=True, help="Iterations per style image (Shen: 20).")
@click.option(
    "--arch", type=click.Choice(["8", "16", "32"]), default=None, help="Base width of the transformation net.  [default: 8; metastyle: 32]"
)
@click.option(
    "--padding",
    type=click.Choice(["zero", "reflect", "prepad"]),
    default=None,
    help="Padding of the transformation net (see docs/padding.md).  [default: zero; metastyle: reflect]",
)
@click.option(
    "--affine-norm",
    is_flag=True,
    help="Instance norms with per-channel scale and shift; shen/shen-fast emit them per style (how strongly each block acts).",
)
@click.option(
    "--input-skip",
    is_flag=True,
    help="Add the photo to the net's output with three gains; shen/shen-fast emit them per style.",
)
@click.option("--content-weight", type=float, default=None, help="[default: 1.0]")
@click.option("--style-weight", type=float, default=None, help="[default: 50.0; metastyle: 5.0]")
@click.option("--tv-weight", type=float, default=None, help="[default: 1e-6; metastyle: 0]")
@click.option(
    "--content-layer",
    type=click.Choice(["relu1_2", "relu2_2", "relu3_3", "relu4_3"]),
    default=None,
    help="[default: relu3_3; metastyle: relu2_2]",
)
@click.option(
    "--structure-weight",
    type=float,
    default=None,
    help="Weight of a second content term at --structure-layer: the photo's edges and fine detail.  [default: 0]",
)
@click.option(
    "--structure-layer",
    type=click.Choice(["relu1_2", "relu2_2"]),
    default=None,
    help="VGG layer of the structure term.  [default: relu2_2]",
)
@click.option(
    "--style-loss",
    type=click.Choice(["meanstd", "gram"]),
    default=None,
    help="Style statistics matched by the loss.  [default: meanstd; metastyle: gram]",
)
@click.option("--inner-steps", type=click.IntRange(1, 5), default=1, show_default=True, help="MetaStyle: SGD steps T of the inner loop.")
@click.option(
    "--inner-lr",
    type=float,
    default=1e-8,
    show_default=True,
    help="MetaStyle: SGD learning rate of the inner loop (tied to the loss scale: see docs/metastyle.md).",
)
@click.option("--first-order", is_flag=True, help="MetaStyle: do not differentiate through the inner loop (first-order approximation).")
@click.option("--styles-per-batch", type=click.IntRange(1), default=4, show_default=True, help="MetaStyle: styles per meta-batch.")
@click.option(
    "--inner-params",
    type=click.Choice(["norm", "all"]),
    default="norm",
    show_default=True,
    help="MetaStyle: what the inner loop adapts: every weight, or only the instance norms' scale/shift (the released code).",
)
@click.option(
    "--teacher-steps",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="shen-fast: first steps on dense targets (Magenta's outputs for cached photo/style pairs; needs --magenta-peers).",
)
@click.option(
    "--teacher-pairs", type=click.IntRange(1), default=4000, show_default=True, help="shen-fast: cached teacher pairs (built once)."
)
@click.option("--final-size", type=click.IntRange(16, 256), default=None, help="shen-fast: training side of the last --final-steps steps.")
@click.option("--final-steps", type=click.IntRange(0), default=0, show_default=True, help="shen-fast: steps at --final-size at the end.")
@click.option(
    "--style-variants",
    type=click.IntRange(0, 16),
    default=0,
    show_default=True,
    help="shen-fast: also train on K colour/crop variants of every style image (statistics precomputed once).",
)
@click.option(
    "--synthetic-styles",
    type=click.IntRange(0, 100_000),
    default=0,
    show_default=True,
    help="shen-fast: also train on N procedural abstract styles (blocks, tiles, shapes, stripes, fields, strokes).",
)
@click.option(
    "--style-noise",
    type=click.FloatRange(0.0, 3.0),
    default=0.0,
    show_default=True,
    help="shen-fast: noise (in training-style standard deviations) on the statistics the meta network reads; not on the loss target.",
)
@click.option(
    "--style-balance",
    type=click.FloatRange(0.0, 2.0),
    default=0.0,
    show_default=True,
    help="shen-fast: per-sample style weight x (d / d_typical) ** GAMMA, d = the photo's own style distance to the style: "
    "> 0 stylizes soft styles less and bold ones more (docs/training.md section 6). 0: the paper's objective.",
)
@click.option(
    "--max-crop-scale",
    type=click.FloatRange(1.0, 8.0),
    default=2.0,
    show_default=True,
    help="shen-fast: photo crops span 1x to this many times the training side before being resized to it (1: the photos' own scale).",
)
@click.option(
    "--init",
    type=click.Path(dir_okay=True, path_type=Path),
    default=None,
    help="shen-fast: start from these meta-network weights (e.g. mobilestyle/models/meta8.safetensors) with a new optimizer.",
)
@click.option(
    "--style-statistics",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="shen-fast: also train on the styles of this precomputed table (N x 1920 'stats' at 256 px, e.g. a "
    "styles-*.safetensors of the data cache; scripts/gpu_pack.py). Repeatable.",
)
@click.option(
    "--lr-decay-steps",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="shen-fast: decay the learning rate linearly to 0 over the last N of --steps.",
)
@click.option("--head-gain", type=float, default=1.0, show_default=True, help="shen-fast: initial style dependence of the emitted weights.")
@click.option(
    "--bf16",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="shen-fast: bf16 autocast for the VGG (auto: only on CPUs with avx512_bf16/AMX, and on CUDA).",
)
@click.option(
    "--data-cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="shen-fast: folder of the prepared data (default ~/.cache/mobilestyle/datasets).",
)
@click.option(
    "--magenta-peers",
    type=click.Path(path_type=Path),
    default=None,
    help="shen-fast: Magenta's TFLite models for --teacher-steps (or $MOBILESTYLE_PEERS).",
)
@click.option(
    "--checkpoint-every", type=click.IntRange(0), default=500, show_default=True, help="Save every N steps (0: only at the end / Ctrl-C)."
)
@click.option(
    "--sample-every",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Write a content|style|output grid every N steps (0: never).",
)
@click.option("--workers", type=click.IntRange(0), default=2, show_default=True, help="Data-loading worker processes.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint (step, optimizer, RNG).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@vgg_weights_option
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def command(**kw: Any) -> None:
    """Train a model with the shared loop (checkpoints, metrics.csv, sample grids, resume, torchrun DDP)."""
    if kw["image_size"] % 4:
        raise click.BadParameter("must be a multiple of 4", param_hint="--image-size")
    module_name, class_name = METHODS[kw["method"]]
    module = importlib.import_module(module_name)
    defaults = {**DEFAULTS, **getattr(module, "TRAIN_DEFAULTS", {})}
    kw = {k: defaults[k] if v is None and k in defaults else v for k, v in kw.items()}
    extra = {k: kw[k] for k in METASTYLE_KEYS} if kw["method"] == "metastyle" else {}
    if kw["method"] == "shen-fast":
        extra = {k: str(kw[k]) if isinstance(kw[k], Path) else kw[k] for k in FAST_KEYS}
        extra["style_statistics"] = [str(path) for path in kw["style_statistics"]]
    options = TrainOptions(
        content_dir=kw["content_dir"],
        style_dir=kw["style_dir"],
        out_dir=kw["out_dir"],
        method=kw["method"],
        steps=kw["steps"],
        batch_size=kw["batch_size"],
        image_size=kw["image_size"],
        style_size=kw["style_size"],
        lr=kw["lr"],
        seed=kw["seed"],
        style_every=kw["style_every"],
        checkpoint_every=kw["checkpoint_every"],
        sample_every=kw["sample_every"],
        workers=kw["workers"],
        device=kw["device"],
        resume=kw["resume"],
        vgg_weights=kw["vgg_weights"],
        progress=not kw["no_progress"],
        arch={"base": int(kw["arch"]), "padding": kw["padding"], **{k: True for k in ("affine_norm", "input_skip") if kw[k]}},
        loss=LossWeights(
            content=kw["content_weight"],
            style=kw["style_weight"],
            tv=kw["tv_weight"],
            content_layer=kw["content_layer"],
            structure=kw["structure_weight"],
            structure_layer=kw["structure_layer"],
            style_kind=kw["style_loss"],
        ),
        extra=extra,
    )
    method_class = getattr(module, class_name)
    ctx = build_context(options)
    summary = run_training(ctx, method_class(ctx))
    if ctx.rank == 0:
        if kw["as_json"]:
            click.echo(json.dumps(summary, indent=2))
        else:
            state = "interrupted at" if summary["interrupted"] else "finished at"
            click.echo(f"{state} step {summary['step']} ({summary['it_per_s']} it/s); checkpoint: {summary['checkpoint']}")
