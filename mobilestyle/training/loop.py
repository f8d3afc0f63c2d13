"""The training loop every method shares: data, VGG losses, metrics, samples, checkpoints, resume, DDP.

A method (Shen's meta network, Johnson's per-style net, MetaStyle) supplies the model, its optimizer
and one ``train_step``; everything else lives here once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from mobilestyle.atomic import atomic_write_text, ensure_writable_dir
from mobilestyle.checkpoint import load_checkpoint, optimizer_tensors, prefixed, restore_optimizer, save_checkpoint
from mobilestyle.data import StyleSampler, crop_loader, list_images, readable_images
from mobilestyle.errors import SIGINT_EXIT, SIGTERM_EXIT, MobilestyleError, request_exit_code
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, make_grid, save_image, tensor_to_image
from mobilestyle.losses import LossWeights, PerceptualLoss
from mobilestyle.runners import channels_last
from mobilestyle.vgg import VGGEncoder

log = logging.getLogger("mobilestyle.train")
METRIC_COLUMNS = ["step", "content_loss", "style_loss", "tv_loss", "total_loss"]
MAX_TRAIN_SIDE = 1024  # --image-size / --style-size ceiling: a batch of 8 at 1024 px already needs ~20 GB in VGG-16
CHECKPOINT_NAME = "checkpoint.safetensors"


@dataclass
class TrainOptions:
    content_dir: Path
    style_dir: Path
    out_dir: Path
    method: str = "shen"
    steps: int = 1000
    batch_size: int = 8
    image_size: int = 256
    style_size: int | None = None
    lr: float = 1e-3
    seed: int = 0
    style_every: int = 20
    checkpoint_every: int = 500
    sample_every: int = 500
    workers: int = 2
    device: str = "auto"
    resume: bool = False
    vgg_weights: Path | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    loss: LossWeights = field(default_factory=LossWeights)
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["loss"] = self.loss.to_dict()
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


@dataclass
class TrainContext:
    """What a method gets from the loop."""

    options: TrainOptions
    device: torch.device
    vgg: VGGEncoder
    loss: PerceptualLoss
    styles: StyleSampler
    content_files: list[Path]
    rank: int
    world: int

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda")

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.device.type == "cuda" else images


class Method(Protocol):
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer

    def train_step(self, step: int, content: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def samples(self, contents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(style image 1x3xHxW, outputs Bx3xHxW) for the sample grid."""
        ...

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...

    def checkpoint_meta(self) -> dict[str, Any]: ...


def pick_device(name: str) -> torch.device:
    """auto, cpu, cuda or cuda:N; anything else is one clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise MobilestyleError(f"unknown --device {name!r}: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MobilestyleError("--device cuda asked for, but no CUDA GPU is available")
    return device


def check_options(options: TrainOptions) -> None:
    """Refuse values that would crash or exhaust memory later: NaN/negative learning rates, huge sides."""
    if not (math.isfinite(options.lr) and options.lr > 0):
        raise MobilestyleError(f"--lr must be a positive finite number, not {options.lr}")
    for flag, side in (("--image-size", options.image_size), ("--style-size", options.style_size)):
        if side is not None and not 16 <= side <= MAX_TRAIN_SIDE:
            raise MobilestyleError(f"{flag} {side} is outside 16..{MAX_TRAIN_SIDE}")
    weights = options.loss
    for flag, value in (
        ("--content-weight", weights.content),
        ("--style-weight", weights.style),
        ("--tv-weight", weights.tv),
        ("--structure-weight", weights.structure),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise MobilestyleError(f"{flag} must be a finite number >= 0, not {value}")


def first_decodable(files: list[Path], kind: str, folder: Path) -> None:
    """At least one file must decode fully (a header check passes truncated files)."""
    for path in files:
        try:
            load_image(path)
            return
        except MobilestyleError as exc:
            log.warning("skipping unreadable %s image: %s", kind, exc)
    raise MobilestyleError(f"none of the {len(files)} {kind} images in {folder} decodes (all unreadable or corrupt)")


def setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """Join a torchrun job when WORLD_SIZE > 1 (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def sync_gradients(parameters: list[nn.Parameter], world: int) -> None:
    """Average gradients over ranks with one flat all-reduce (data-parallel training)."""
    if world <= 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(parameters, grads):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def optimizer_step(
    optimizer: torch.optim.Optimizer, parameters: list[nn.Parameter], parts: dict[str, torch.Tensor], world: int
) -> dict[str, torch.Tensor]:
    """Backward on the total loss, average gradients over ranks, step; return the detached loss parts."""
    optimizer.zero_grad(set_to_none=True)
    parts["total_loss"].backward()
    sync_gradients(parameters, world)
    optimizer.step()
    return {k: v.detach() for k, v in parts.items()}


def broadcast_parameters(module: nn.Module, world: int) -> None:
    if world > 1:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


class MetricsLog:
    """RUN_DIR/metrics.csv (and TensorBoard if installed), rank 0 only."""

    def __init__(self, run_dir: Path, resume_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.csv"
        self.writer = None
        if not enabled:
            return
        rows: list[list[str]] = []
        if resume_step and self.path.exists():
            with open(self.path, newline="") as handle:
                rows = [r for r in csv.reader(handle)][1:]
            rows = [r for r in rows if r and int(r[0]) <= resume_step]
        # the kept rows replace the file in one step (a kill right after a resume must not cut the history), then
        # new rows are appended
        table = io.StringIO()
        csv.writer(table).writerows([METRIC_COLUMNS, *rows])
        atomic_write_text(self.path, table.getvalue())
        self.handle = open(self.path, "a", newline="")
        self.csv = csv.writer(self.handle)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step or None)
        except Exception:  # tensorboard is optional
            self.writer = None

    def write(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.csv.writerow([step] + [f"{values[c]:.6g}" for c in METRIC_COLUMNS[1:]])
        if self.writer is not None:
            for key in METRIC_COLUMNS[1:]:
                self.writer.add_scalar(f"loss/{key}", values[key], step)

    def flush(self) -> None:
        if self.enabled:
            self.handle.flush()
            os.fsync(self.handle.fileno())

    def close(self) -> None:
        if self.enabled:
            self.handle.close()
            if self.writer is not None:
                self.writer.close()


def build_context(options: TrainOptions) -> TrainContext:
    check_options(options)
    device = pick_device(options.device)
    rank, world, device = setup_distributed(device)
    torch.manual_seed(options.seed + rank)
    random.seed(options.seed + rank)
    content_all = list_images(options.content_dir)
    content_files, bad_content = readable_images(content_all)
    style_files, bad_style = readable_images([options.style_dir] if options.style_dir.is_file() else list_images(options.style_dir))
    for kind, bad in (("content", bad_content), ("style", bad_style)):
        if bad:
            log.warning("skipped %d unreadable %s image(s), e.g. %s", len(bad), kind, bad[0])
    if not content_files or not style_files:
        raise MobilestyleError("no readable content or style images")
    first_decodable(content_files, "content", options.content_dir)
    vgg = VGGEncoder.from_weights(options.vgg_weights).to(device)
    if device.type == "cuda":  # shen-fast takes it on the CPU too (training/shen_fast.py)
        vgg = channels_last(vgg)
    styles = StyleSampler(style_files, options.style_size or options.image_size, options.seed + 1000 * rank)
    styles.skipped = len(bad_style)
    return TrainContext(options, device, vgg, PerceptualLoss(vgg, options.loss), styles, content_files, rank, world)


def _sample_contents(ctx: TrainContext, count: int = 3) -> torch.Tensor:
    files = ctx.content_files[:: max(1, len(ctx.content_files) // count)][:count]
    return torch.cat([image_to_tensor(center_crop_square(load_image(f), ctx.options.image_size)) for f in files])


def write_sample_grid(ctx: TrainContext, method: Method, step: int, contents: torch.Tensor) -> Path:
    style, outputs = method.samples(contents.to(ctx.device))
    style_pic = tensor_to_image(style.float().cpu())
    rows = [[tensor_to_image(c), style_pic, tensor_to_image(o.float().cpu())] for c, o in zip(contents, outputs)]
    grid = make_grid(rows, cell=min(256, ctx.options.image_size * 2), labels=["content", "style", f"output @ {step}"])
    return save_image(grid, ctx.options.out_dir / "samples" / f"step_{step:07d}.png")


def save_run(ctx: TrainContext, method: Method, step: int) -> Path:
    opt_tensors, opt_info = optimizer_tensors(method.optimizer)
    tensors = {f"model.{k}": v for k, v in method.model.state_dict().items()}
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "kind": "training",
        "method": method.name,
        "step": step,
        "options": ctx.options.to_json(),
        "optimizer": opt_info,
        "style_sampler": json.loads(json.dumps(ctx.styles.state())),
        "method_state": method.extra_state(),
        **method.checkpoint_meta(),
    }
    return save_checkpoint(ctx.options.out_dir / CHECKPOINT_NAME, tensors, meta)


def checkpoint(ctx: TrainContext, method: Method, step: int, metrics: MetricsLog) -> Path:
    """metrics.csv first (flushed to the OS), then the checkpoint: after a kill -9 the rows reach the checkpoint's step."""
    metrics.flush()
    return save_run(ctx, method, step)


def restore_run(ctx: TrainContext, method: Method) -> int:
    path = ctx.options.out_dir / CHECKPOINT_NAME
    tensors, meta = load_checkpoint(path)
    if meta.get("method") != method.name:
        raise MobilestyleError(f"{path} was trained with --method {meta.get('method')}, not {method.name}")
    try:
        method.model.load_state_dict(prefixed(tensors, "model"))
    except RuntimeError as exc:
        raise MobilestyleError(f"checkpoint {path} does not fit this architecture ({str(exc).splitlines()[0]})") from None
    restore_optimizer(method.optimizer, tensors, meta["optimizer"])
    torch.set_rng_state(tensors["rng.torch"])
    state = meta["style_sampler"]
    ctx.styles.set_state((state[0], tuple(state[1]), state[2]))
    method.load_extra_state(meta.get("method_state", {}))
    return int(meta["step"])


def _forget_worker_deaths() -> None:
    """Once we are stopping, a data-loading worker killed by the same signal is no error: drop torch's SIGCHLD check."""
    if hasattr(signal, "SIGCHLD"):
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _stop_workers(loader: Any) -> None:
    shutdown = getattr(loader, "_shutdown_workers", None)
    if shutdown is not None:
        try:
            shutdown()
        except Exception as exc:  # workers already gone: nothing left to stop
            log.debug("stopping data-loading workers: %s", exc)


def run_training(ctx: TrainContext, method: Method) -> dict[str, Any]:
    """Train ``method`` for options.steps (counting from a resumed step); return a summary."""
    options = ctx.options
    main = ctx.rank == 0
    ensure_writable_dir(options.out_dir)
    start = restore_run(ctx, method) if options.resume else 0
    if options.resume and start >= options.steps:
        raise MobilestyleError(f"the run in {options.out_dir} is already at step {start} >= --steps {options.steps}")
    broadcast_parameters(method.model, ctx.world)
    if main:
        atomic_write_text(options.out_dir / "options.json", json.dumps(options.to_json(), indent=2))
    metrics = MetricsLog(options.out_dir, start, main)
    contents = _sample_contents(ctx) if main and options.sample_every else None
    # a method with its own data (``batches``) gets its batches as they are; others get random photo crops
    own_batches = getattr(method, "batches", None)
    loader = (
        own_batches(start)
        if own_batches
        else crop_loader(ctx.content_files, options.image_size, options.batch_size, options.seed, options.workers, ctx.rank, start=start)
    )
    interrupted, exit_code = False, SIGINT_EXIT

    def on_term(signum: int, frame: object) -> None:
        nonlocal exit_code
        exit_code = SIGTERM_EXIT
        _forget_worker_deaths()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term) if main else None
    bar = tqdm(total=options.steps, initial=start, disable=not (main and options.progress), unit="it", dynamic_ncols=True)
    step, started, last = start, time.perf_counter(), {}
    try:
        while step < options.steps:
            content = next(loader) if own_batches else ctx.to_device(next(loader))
            parts = method.train_step(step, content)
            step += 1
            last = {k: float(v) for k, v in parts.items()}
            metrics.write(step, last)
            bar.update(1)
            bar.set_postfix(total=f"{last['total_loss']:.4g}", content=f"{last['content_loss']:.3g}", style=f"{last['style_loss']:.3g}")
            if main and step % 50 == 0:
                metrics.flush()
            if main and options.sample_every and contents is not None and (step % options.sample_every == 0 or step == options.steps):
                write_sample_grid(ctx, method, step, contents)
            if main and options.checkpoint_every and step % options.checkpoint_every == 0:
                checkpoint(ctx, method, step, metrics)
    except KeyboardInterrupt:
        interrupted = True
    except RuntimeError as exc:
        # A SIGTERM sent to the whole process group (docker stop, a scheduler, pkill) can kill a data-loading
        # worker before our own handler runs: that is a stop request too, so save instead of crashing.
        if "DataLoader worker" not in str(exc):
            raise
        log.warning("a data-loading worker was stopped (%s); saving the checkpoint", str(exc).splitlines()[0])
        interrupted, exit_code = True, SIGTERM_EXIT
    finally:
        if interrupted:
            _forget_worker_deaths()
        _stop_workers(loader)
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    seconds = time.perf_counter() - started
    if main:
        checkpoint(ctx, method, step, metrics)
        metrics.close()
    if interrupted:  # saved; now tell the caller (a scheduler, a shell) that the run did not finish
        request_exit_code(exit_code)
    if ctx.world > 1:
        dist.barrier()
    summary = {
        "step": step,
        "steps_run": step - start,
        "seconds": round(seconds, 2),
        "it_per_s": round((step - start) / seconds, 3) if seconds > 0 else None,
        "interrupted": interrupted,
        "checkpoint": str(options.out_dir / CHECKPOINT_NAME),
        "skipped_style_images": ctx.styles.skipped,
        **{k: round(v, 6) for k, v in last.items()},
    }
    if main:
        atomic_write_text(options.out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary
