"""Time one shen-fast perceptual step three ways, interleaved in one process (docs/training.md §2.2).

The step is the photo-skip fork's (meta network -> per-sample nets -> VGG content/style/TV loss -> backward) on
random photos and statistics, fp32 (the bf16 path is not timed here):
  1. the photo's VGG pass through all four taps (the code before the twenty-first session),
  2. the photo's VGG pass through its content layers only (now),
  3. (2) with the VGG channels-last (now, shen-fast's layout on every device).

    OMP_NUM_THREADS=2 python scripts/step_bench.py [--threads 2] [--repeats 7] [--size 256] [--batch 4]

Run it on an otherwise idle machine (stop a training run with `pkill -STOP -f "mobilestyle train"`, then `-CONT`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from mobilestyle.losses import LossWeights, content_distance, content_layers, style_distance_each, total_variation
from mobilestyle.meta import MetaNetwork
from mobilestyle.runners import channels_last
from mobilestyle.transformer import NetConfig
from mobilestyle.vgg import VGGEncoder, split_statistics, style_statistics

VARIANTS = ("photo through all taps", "photo through its content layers", "content layers + channels-last VGG")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="rounds of the three variants; the first is dropped")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--vgg-weights", default=None, help="default: $MOBILESTYLE_VGG16 or the user cache")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vgg = VGGEncoder.from_weights(args.vgg_weights)
    encoders = (vgg, vgg, channels_last(VGGEncoder.from_weights(args.vgg_weights)))
    weights = LossWeights(structure=3.0)  # the photo-skip fork's objective
    model = MetaNetwork(NetConfig(input_skip=True))
    model.set_statistics_normalisation(torch.rand(64, 1920))
    stats = torch.rand(args.batch, 1920)
    photos = torch.rand(args.batch, 3, args.size, args.size) * 255

    def step(variant: int) -> None:
        encoder = encoders[variant]
        model.zero_grad()
        output = model.stylize_each(photos, stats)
        with torch.no_grad():
            photo_features = encoder(photos, taps=None if variant == 0 else content_layers(weights))
        features = encoder(output)
        target = split_statistics(stats, weights.style_layers)
        style = style_distance_each(split_statistics(style_statistics(features), weights.style_layers), target).mean()
        loss = content_distance(weights, features, photo_features) + weights.style * style + weights.tv * total_variation(output)
        loss.backward()

    seconds: list[list[float]] = [[] for _ in VARIANTS]
    for _ in range(args.repeats):
        for variant in range(len(VARIANTS)):
            start = time.perf_counter()
            step(variant)
            seconds[variant].append(time.perf_counter() - start)
    medians = [statistics.median(times[1:] or times) for times in seconds]
    for name, median in zip(VARIANTS, medians):
        print(f"{name:36s} median {median:.3f} s/step   {medians[0] / median:.2f}x")
    print(json.dumps({"threads": args.threads, "size": args.size, "batch": args.batch, "median_s": dict(zip(VARIANTS, medians))}))


if __name__ == "__main__":
    main()
