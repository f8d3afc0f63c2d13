"""What a user would do instead of the meta network: Johnson per-style training and Gatys optimization, timed per step.

(The baselines themselves live in mobilestyle/baselines/; this times them for `bench --baselines`.)"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mobilestyle.baselines.gatys import optimize_image
from mobilestyle.bench.core import GATYS_STEPS, JOHNSON_BATCH, JOHNSON_STEPS, BenchOptions, Subject, skip
from mobilestyle.bench.records import BenchRecord, BenchResult
from mobilestyle.bench.timing import Timing, time_interleaved
from mobilestyle.errors import MobilestyleError
from mobilestyle.losses import LossWeights, PerceptualLoss
from mobilestyle.transformer import NetConfig, TransformNet
from mobilestyle.vgg import VGGEncoder


def time_baselines(options: BenchOptions, subject: Subject, result: BenchResult, log: Callable[[str], None]) -> None:
    """What a user would do instead: Johnson per-style training, Gatys optimization (per-step time, extrapolated)."""
    try:
        vgg = VGGEncoder.from_weights(options.vgg_weights).eval()
    except MobilestyleError as exc:
        skip(result, f"baselines: {exc}")
        return
    threads = options.threads[0]
    torch.set_num_threads(threads)
    loss = PerceptualLoss(vgg, LossWeights())
    side = 256
    rng = torch.Generator().manual_seed(0)
    content = torch.rand(JOHNSON_BATCH, 3, side, side, generator=rng) * 255
    target = loss.style_of(torch.rand(1, 3, side, side, generator=rng) * 255)
    config = subject.net.config if subject.net is not None else NetConfig()
    net = TransformNet(config).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def johnson_step() -> object:
        parts = loss(net(content), content, target)
        optimizer.zero_grad(set_to_none=True)
        parts["total_loss"].backward()
        optimizer.step()
        return None

    log("baselines: Johnson training steps")
    steps = max(1, options.baseline_steps)
    timing = time_interleaved({"johnson": johnson_step}, repeats=steps, warmup=1)["johnson"]
    hours = timing.median_ms * JOHNSON_STEPS / 3.6e6
    note = f"one training step (same net, VGG losses, Adam), batch {JOHNSON_BATCH}; "
    note += f"x {JOHNSON_STEPS} steps = {hours:.1f} h per style (extrapolated)"
    result.records.append(cpu_baseline_record(timing, "johnson-train-step", side, threads, "random", note))
    image = content[:1]
    log("baselines: Gatys steps")
    timing = time_interleaved({"gatys": lambda: optimize_image(loss, image, target, 1)}, repeats=steps, warmup=1)["gatys"]
    seconds = timing.median_ms * GATYS_STEPS / 1000.0
    note = "optimize_image(steps=1): one Adam step on the pixels (+ its content-feature forward); "
    note += f"x {GATYS_STEPS} = {seconds:.0f} s per image (extrapolated)"
    result.records.append(cpu_baseline_record(timing, "gatys-step", side, threads, "-", note))


def cpu_baseline_record(timing: Timing, model: str, side: int, threads: int, weights: str, note: str) -> BenchRecord:
    """One PyTorch fp32 CPU step of a baseline method, timed at ``side``²."""
    return BenchRecord.from_timing(
        timing,
        kind="baseline",
        model=model,
        runtime="torch",
        device="cpu",
        precision="fp32",
        height=side,
        width=side,
        threads=threads,
        weights=weights,
        note=note,
    )
