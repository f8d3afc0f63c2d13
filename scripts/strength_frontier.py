"""How far issue 12's content line (<= 1.1x Magenta's content loss at <= 0.5x its style loss) is from a model, per style:
the ratios to Magenta's pair scores (docs/evaluation_meta8/evaluation.json) of the 10 eval photos, for each eval style,
when the style's strength is changed after the fact (docs/training.md section 6, ninth session).

    python scripts/strength_frontier.py blend MODEL --out CURVES.json     # (1 - a) * output + a * photo, a grid of a
    python scripts/strength_frontier.py allocate CURVES.json [--distances DIST.json]
    python scripts/strength_frontier.py refine --out REFINED.json --styles the_scream.jpg,mosaic.jpg --weights 50,20
        [--steps 60] [--checkpoint MODEL]                               # export --refine's loop at other style weights

`allocate` is an oracle: for every trade-off price it gives each style the strength that is best for that style on
the 10 eval photos themselves, so no per-style strength rule, learned or set, can do better with that model's nets.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from target_lines import pairs_of  # beside this script (its folder is on sys.path)

from mobilestyle.controls.refine import refine_net, refine_settings
from mobilestyle.data import list_images
from mobilestyle.evaluation import Scorer, StyleTargets
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, resize_short_side
from mobilestyle.losses import LossWeights
from mobilestyle.model_files import load_model
from mobilestyle.style_encoder import StyleEncoder, StyleNets
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder

METRICS = ("content", "style", "gram", "ssim")  # the first three as ratios to Magenta's score on the same pair
BLEND_GRID = (0.0, 0.025, 0.05, 0.1, 0.2, 0.35)
PRICES = (0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)


class Pairs:
    """The eval photos, Magenta's pair scores and a scorer: a net or an output -> mean ratios over the photos."""

    def __init__(self, shared: Path, reference: Path, photos: int = 10) -> None:
        self.magenta = pairs_of(json.loads(reference.read_text()), "magenta")
        self.vgg = VGGEncoder.from_weights(None)
        self.scorer = Scorer(self.vgg)
        self.style_dir = shared / "data" / "eval" / "style"
        self.train_photos = list_images(shared / "data" / "train" / "content")
        self.photos = [
            (path.name, image_to_tensor(center_crop_square(load_image(path), 256)))
            for path in list_images(shared / "data" / "eval" / "content")[:photos]
        ]
        self.features = {name: self.scorer.content_features(photo) for name, photo in self.photos}

    def target(self, style: str) -> StyleTargets:
        return self.scorer.style_targets(image_to_tensor(resize_short_side(load_image(self.style_dir / style), 256)))

    def ratios(self, style: str, target: StyleTargets, outputs: list[torch.Tensor]) -> list[float]:
        rows = []
        for (name, photo), output in zip(self.photos, outputs):
            score, magenta = self.scorer.score(output, photo, self.features[name], target), self.magenta[(name, style)]
            rows.append(
                (
                    score["content_loss"] / magenta["content_loss"],
                    score["style_meanstd"] / magenta["style_meanstd"],
                    score["style_gram"] / magenta["style_gram"],
                    score["ssim"],
                )
            )
        return [statistics.mean(row[i] for row in rows) for i in range(len(METRICS))]

    @torch.no_grad()
    def outputs(self, net: TransformNet) -> list[torch.Tensor]:
        return [net(photo) for _, photo in self.photos]

    def style_nets(self, model: Path | None) -> StyleNets:
        """The model's meta network (default: the shipped one) on this scorer's VGG."""
        return StyleNets(load_model(model, expect="MetaNetwork"), StyleEncoder(self.vgg))


def blend_curves(pairs: Pairs, model: Path) -> dict[str, dict[str, list[float]]]:
    nets = pairs.style_nets(model)
    curves = {}
    for path in list_images(pairs.style_dir):
        net = nets.net(load_image(path))
        target, outputs = pairs.target(path.name), pairs.outputs(net)
        curves[path.name] = {
            str(a): pairs.ratios(path.name, target, [(1 - a) * y + a * photo for y, (_, photo) in zip(outputs, pairs.photos)])
            for a in BLEND_GRID
        }
        print(path.name, " ".join(f"{m} {v:.3f}" for m, v in zip(METRICS, curves[path.name]["0.0"])), flush=True)
    return curves


def interpolated(curves: dict[str, dict[str, list[float]]], points: int = 281) -> tuple[list[float], dict[str, list[list[float]]]]:
    """Each style's metrics on a fine grid of strengths, linear between the measured ones."""
    keys = sorted(next(iter(curves.values())), key=float)
    grid = [float(a) for a in keys]
    fine = np.linspace(0.0, grid[-1], points)
    table = {}
    for style, curve in curves.items():
        measured = np.array([curve[a] for a in keys])  # strengths x metrics
        table[style] = np.stack([np.interp(fine, grid, measured[:, m]) for m in range(measured.shape[1])], axis=1).tolist()
    return fine.tolist(), table


def oracle_choice(table: dict[str, list[list[float]]], price: float) -> dict[str, int]:
    """Per style, the grid index minimising content ratio + price * style ratio."""
    return {s: min(range(len(rows)), key=lambda i, rows=rows: rows[i][0] + price * rows[i][1]) for s, rows in table.items()}


def allocate(curves: dict[str, dict[str, list[float]]], distances: dict[str, float] | None) -> None:
    """One strength for every style, then the oracle's per-style strengths at each price."""
    fine, table = interpolated(curves)
    styles = sorted(table)

    def line(label: str, chosen: dict[str, int]) -> str:
        means = [statistics.mean(table[s][chosen[s]][i] for s in styles) for i in range(len(METRICS))]
        strengths = [fine[chosen[s]] for s in styles]
        text = f"{label:22s} " + "  ".join(f"{m} {v:.3f}" for m, v in zip(METRICS, means)) + f"  mean a {statistics.mean(strengths):.3f}"
        if distances and len(set(strengths)) > 1:
            logs = [math.log(distances[s]) for s in styles]
            text += f"  corr(a, log distance) {statistics.correlation(strengths, logs):+.2f}"
        return text

    for index in range(0, len(fine) // 2 + 1, 20):
        print(line(f"every style a = {fine[index]:.3f}", {s: index for s in styles}))
    for price in PRICES:
        print(line(f"oracle, price {price:g}", oracle_choice(table, price)))


def refine_frontier(pairs: Pairs, model: Path | None, styles: list[str], weights: list[float], steps: int, out: Path) -> None:
    nets = pairs.style_nets(model)
    results: dict[str, dict[str, list[float]]] = json.loads(out.read_text()) if out.exists() else {}
    for style in styles:
        image = load_image(pairs.style_dir / style)
        net = nets.net(image)
        target = pairs.target(style)
        rows = results.setdefault(style, {})
        rows["emitted"] = pairs.ratios(style, target, pairs.outputs(net))
        for weight in weights:
            settings = replace(refine_settings(steps, style_size=nets.style_size), loss=LossWeights(style=weight))
            refined = refine_net(net, image, pairs.train_photos, pairs.vgg, settings).net
            rows[f"style weight {weight:g}, {steps} steps"] = pairs.ratios(style, target, pairs.outputs(refined))
            out.write_text(json.dumps(results, indent=1))
        for label, values in rows.items():
            print(f"{style:28s} {label:28s} " + "  ".join(f"{m} {v:.3f}" for m, v in zip(METRICS, values)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--reference", type=Path, default=Path("docs/evaluation_meta8/evaluation.json"))
    commands = parser.add_subparsers(dest="command", required=True)
    blend = commands.add_parser("blend", help="per-style curves of (1 - a) * output + a * photo")
    blend.add_argument("model", type=Path)
    blend.add_argument("--out", type=Path, required=True)
    oracle = commands.add_parser("allocate", help="the best per-style strengths for each trade-off price")
    oracle.add_argument("curves", type=Path)
    oracle.add_argument("--distances", type=Path, help="style -> distance from the photos (scripts/style_distances.py)")
    refine = commands.add_parser("refine", help="export --refine's loop at other style weights, per style")
    refine.add_argument("--out", type=Path, required=True)
    refine.add_argument("--styles", required=True, help="comma-separated eval style file names")
    refine.add_argument("--weights", default="50", help="comma-separated style weights")
    refine.add_argument("--steps", type=int, default=60)
    refine.add_argument("--checkpoint", type=Path, help="default: the shipped model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "allocate":
        distances = json.loads(args.distances.read_text()) if args.distances else None
        allocate(json.loads(args.curves.read_text()), distances)
        return
    pairs = Pairs(args.shared, args.reference)
    if args.command == "blend":
        args.out.write_text(json.dumps(blend_curves(pairs, args.model), indent=1))
    else:
        weights = [float(w) for w in args.weights.split(",")]
        refine_frontier(pairs, args.checkpoint, args.styles.split(","), weights, args.steps, args.out)


if __name__ == "__main__":
    main()
