"""MetaStyle adaptation: loss after 0/25/50/100/200 Adam steps from a learned initialization vs from random
(= a Johnson net trained from scratch for the same steps), and seconds per adaptation step on this machine.

    python benchmarks/metastyle_adaptation.py --init RUN_DIR --content $MOBILESTYLE_SHARED/data/train/content/bsds \
        --eval-content $MOBILESTYLE_SHARED/data/eval/content \
        --styles $MOBILESTYLE_SHARED/data/eval/style/wave.jpg,$MOBILESTYLE_SHARED/data/eval/style/candy.jpg \
        --vgg-weights $MOBILESTYLE_SHARED/weights/vgg16_caffe_features.pth --image-size 32 --batch-size 4 --steps 0,25,50,100,200

The loss is the MetaStyle perceptual loss (total, as exported: clamped output) on a fixed batch of held-out
photos (centre crops at --image-size), so every step count and both initializations are scored on the same
pictures. Prints a table and writes --out (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from mobilestyle.adaptation import AdaptSettings, adapt_net, load_initialization
from mobilestyle.data import list_images
from mobilestyle.images import center_crop_square, image_to_tensor, load_image
from mobilestyle.vgg import VGGEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--init", required=True, help="learned initialization (run folder or .safetensors)")
    parser.add_argument("--content", required=True, type=Path, help="photos the adaptation trains on")
    parser.add_argument("--eval-content", required=True, type=Path, help="held-out photos (the first --eval-count are scored)")
    parser.add_argument("--eval-count", type=int, default=4)
    parser.add_argument("--styles", required=True, help="comma-separated style images")
    parser.add_argument("--vgg-weights", type=Path, default=None)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", default="0,25,50,100,200", help="step counts at which the loss is recorded")
    parser.add_argument("--only-in", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "metastyle_adaptation.json")
    args = parser.parse_args()

    record_at = sorted({int(s) for s in args.steps.split(",")})
    vgg = VGGEncoder.from_weights(args.vgg_weights)
    files = list_images(args.content)
    eval_files = list_images(args.eval_content)[: args.eval_count]
    eval_batch = torch.cat([image_to_tensor(center_crop_square(load_image(f), args.image_size)) for f in eval_files])
    settings = AdaptSettings(
        steps=max(record_at), batch_size=args.batch_size, image_size=args.image_size, only_norm=args.only_in, seed=args.seed
    )
    learned_net, _ = load_initialization(args.init)
    base = learned_net.config.base
    rows = []
    for style_path in args.styles.split(","):
        style = load_image(style_path)
        for label, init in (("learned", args.init), ("random", "random")):
            net, _ = load_initialization(init, base=base, seed=args.seed)
            result = adapt_net(net, style, files, vgg, settings, eval_batch=eval_batch, eval_at=record_at)
            rows.append(
                {
                    "style": Path(style_path).stem,
                    "init": label,
                    "loss": {str(k): v for k, v in result.eval_losses.items()},
                    "seconds_per_step": result.seconds_per_step,
                    "seconds_100_steps": 100 * (result.seconds_per_step or 0.0),
                }
            )
            losses = "  ".join(f"{k}:{v:.4g}" for k, v in result.eval_losses.items())
            print(f"{Path(style_path).stem:12s} {label:8s} {result.seconds_per_step or 0:.3f} s/step  {losses}", flush=True)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "init": str(args.init),
        "arch": learned_net.config.to_dict(),
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "eval_images": [f.name for f in eval_files],
        "only_in": args.only_in,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
