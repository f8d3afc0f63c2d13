"""Batched emission for docs/serve.md's scale-out paragraph: the style encoder (VGG-16 to relu4_3) and the meta network
on 1, 8 and 32 styles at once, per style, on this CPU (one torch thread per worker, as `mobilestyle serve` runs them).

    OMP_NUM_THREADS=1 python benchmarks/serve_emission.py [--threads 1] [--repeats 3]

Writes benchmarks/results/serve_emission.json. The VGG pass dominates a new style's cost on a CPU; a GPU replica
would batch these two stages across requests, while conversion and verification stay per style on its CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from mobilestyle.style_encoder import StyleNets
from mobilestyle.vgg import style_statistics

RESULTS = Path(__file__).resolve().parent / "results"


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    nets = StyleNets.load()
    side = nets.style_size
    rows = []
    for batch in (1, 8, 32):
        styles = torch.rand(batch, 3, side, side) * 255
        vgg_s, meta_s = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            stats = style_statistics(nets.encoder.vgg(styles))
            t1 = time.perf_counter()
            nets.meta_network.weights_from_code(nets.meta_network.hidden_code(stats))
            t2 = time.perf_counter()
            vgg_s.append(t1 - t0)
            meta_s.append(t2 - t1)
        vgg, meta = min(vgg_s), min(meta_s)
        rows.append(
            {
                "styles": batch,
                "vgg_ms_per_style": round(1000 * vgg / batch, 1),
                "meta_ms_per_style": round(1000 * meta / batch, 2),
                "styles_per_s": round(batch / (vgg + meta), 2),
            }
        )
        print(rows[-1], flush=True)
    result = {"style_side": side, "threads": args.threads, "cpus": os.cpu_count(), "rows": rows, "note": args.note}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_emission.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
