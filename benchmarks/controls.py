"""Pictures and numbers of docs/controls.md (issue 14): mix, colours, detail, random textures, tiles, refine.

    OMP_NUM_THREADS=1 python benchmarks/controls.py [mix] [colors] [detail] [noise] [tiles] [demo_tiles] [refine] [--checkpoint MODEL]

Every part re-runs on whatever model is the default (or --checkpoint): pictures go to docs/controls/, numbers to
benchmarks/results/controls_<part>.json (`--tables` prints docs/controls.md's tables from them). Shared data from $MOBILESTYLE_SHARED, VGG
from $MOBILESTYLE_VGG16. One thread throughout (the numbers are CPU seconds of this machine). Run time on the
2-core machine: mix ~1 min, colors ~1 min, detail ~6 min, noise ~10 s, tiles ~4 min, refine ~10 min.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mobilestyle.adaptation import load_initialization
from mobilestyle.baselines.magenta import MagentaStylizer, find_magenta_dir
from mobilestyle.controls.colors import PreserveColors, ycbcr
from mobilestyle.controls.detail import KeepDetail
from mobilestyle.controls.mixing import mix_nets
from mobilestyle.controls.noise import random_net
from mobilestyle.controls.refine import refine_net, refine_settings
from mobilestyle.controls.tiles import (
    feather_for,
    fixed_norm_net,
    margin_for,
    norm_statistics,
    stylize_per_tile,
    stylize_tiled,
    stylize_windows,
)
from mobilestyle.data import list_images
from mobilestyle.evaluation import PairScore, Scorer, paired_ratio
from mobilestyle.export import export, open_model
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, make_grid, prepare_style, resize_short_side, save_image
from mobilestyle.model_files import LoadedModel, load_model, save_model
from mobilestyle.style_encoder import StyleEncoder
from mobilestyle.transformer import TransformNet

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOBILESTYLE_SHARED", REPO.parent / "shared"))
PICTURES = REPO / "docs" / "controls"
RESULTS = REPO / "benchmarks" / "results"
STYLES = SHARED / "data" / "eval" / "style"
CONTENT = SHARED / "data" / "eval" / "content"
MIX_PAIRS = [("candy.jpg", "starry_night.jpg"), ("mosaic.jpg", "the_scream.jpg")]
MIX_PHOTOS = ["avril.jpg", "newyork.jpg"]
SIZE = 256


def _tensor(image: Image.Image) -> torch.Tensor:
    return image_to_tensor(image)


def _image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).round().astype(np.uint8), "RGB")


def _nchw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None]


def _run_hwc(net: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    return _run(net, _nchw(rgb))[0].permute(1, 2, 0).numpy()


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.eval()(x)


def _write(part: str, data: dict) -> None:
    data = {
        "part": part,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        **data,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"controls_{part}.json").write_text(json.dumps(data, indent=2) + "\n")


class Context:
    def __init__(self, checkpoint: str | None) -> None:
        self.loaded = load_model(checkpoint, expect="MetaNetwork")
        self.model = self.loaded.model
        self.encoder = StyleEncoder.load(None)
        self.scorer = Scorer(self.encoder.vgg)
        self.style_size = self.loaded.style_size

    def stats(self, style: str) -> torch.Tensor:
        return self.encoder.statistics(load_image(STYLES / style), self.style_size)

    def photo(self, name: str, size: int = SIZE) -> torch.Tensor:
        return _tensor(center_crop_square(load_image(CONTENT / name), size))

    def style_tensor(self, style: str) -> torch.Tensor:
        return _tensor(prepare_style(load_image(STYLES / style), self.style_size))


# ------------------------------------------------------------------------------------------------------ mix
def part_mix(ctx: Context) -> dict:
    """5 mixing steps per pair, in each space; losses against each end and against the mixed target statistics."""
    ts = [0.0, 0.25, 0.5, 0.75, 1.0]
    spaces = ["hidden", "pre-relu"]  # hidden = the emitted weights, pre-relu = the log statistics (checked below)
    rows, identical = [], 0.0
    for a, b in MIX_PAIRS:
        stats = torch.cat([ctx.stats(a), ctx.stats(b)])
        targets = [ctx.scorer.style_targets(ctx.style_tensor(s)) for s in (a, b)]
        photos = torch.cat([ctx.photo(p) for p in MIX_PHOTOS])
        content_features = ctx.scorer.content_features(photos)
        grid_rows = []
        for space in spaces:
            cells = []
            for t in ts:
                net = mix_nets(ctx.model, stats, [1 - t, t], space)
                twin = {"hidden": "weights", "pre-relu": "statistics"}[space]
                other = mix_nets(ctx.model, stats, [1 - t, t], twin)
                identical = max(identical, float((_run(net, photos) - _run(other, photos)).abs().max()))
                out = _run(net, photos)
                to_a = ctx.scorer.score(out, photos, content_features, targets[0])
                to_b = ctx.scorer.score(out, photos, content_features, targets[1])
                # the mixed target: mean/std statistics interpolated like the weights (a style between the two)
                mixed = type(targets[0])(
                    {
                        k: tuple((1 - t) * x + t * y for x, y in zip(targets[0].meanstd[k], targets[1].meanstd[k]))
                        for k in targets[0].meanstd
                    },
                    targets[0].gram,
                )
                to_mix = ctx.scorer.score(out, photos, content_features, mixed)
                rows.append(
                    {
                        "pair": f"{a}+{b}",
                        "space": space,
                        "t": t,
                        "content_loss": to_a["content_loss"],
                        "style_to_a": to_a["style_meanstd"],
                        "style_to_b": to_b["style_meanstd"],
                        "style_to_mix": to_mix["style_meanstd"],
                        "total_to_mix": to_mix["total_loss"],
                        "ssim": to_a["ssim"],
                    }
                )
                cells.append(_image(out[0].permute(1, 2, 0).numpy()))
            grid_rows.append(cells)
        style_row = [load_image(STYLES / a)] + [Image.new("RGB", (SIZE, SIZE), "white")] * 3 + [load_image(STYLES / b)]
        grid = make_grid(
            [[center_crop_square(im, SIZE) for im in style_row]] + grid_rows,
            cell=192,
            labels=["A (t=0)", "t=0.25", "t=0.5", "t=0.75", "B (t=1)"],
        )
        save_image(grid, PICTURES / f"mix_{Path(a).stem}_{Path(b).stem}.jpg")
    summary = {}
    for space in spaces:
        mids = [r for r in rows if r["space"] == space and 0 < r["t"] < 1]
        summary[space] = {k: float(np.mean([r[k] for r in mids])) for k in ("content_loss", "style_to_mix", "total_to_mix", "ssim")}
    return {"rows": rows, "summary_between_ends": summary, "twins_max_abs_difference": identical, "photos": MIX_PHOTOS}


# --------------------------------------------------------------------------------------------------- colours
def part_colors(ctx: Context) -> dict:
    styles = ["candy.jpg", "the_scream.jpg", "mosaic.jpg"]
    photo = ctx.photo("newyork.jpg", 384)
    rows, cells = [], []
    for style in styles:
        net = ctx.model.emit(ctx.stats(style))
        plain, kept = _run(net, photo), _run(PreserveColors(net), photo)
        cells.append(
            [
                _image(photo[0].permute(1, 2, 0).numpy()),
                center_crop_square(load_image(STYLES / style), 384),
                _image(plain[0].permute(1, 2, 0).numpy()),
                _image(kept[0].permute(1, 2, 0).numpy()),
            ]
        )
        inside = ((kept > 0.5) & (kept < 254.5)).all(1, keepdim=True).expand(-1, 2, -1, -1)
        chroma = (ycbcr(kept)[:, 1:] - ycbcr(photo)[:, 1:]).abs()
        rows.append(
            {
                "style": style,
                "chroma_mae_plain": float((ycbcr(plain)[:, 1:] - ycbcr(photo)[:, 1:]).abs().mean()),
                "chroma_mae_kept": float(chroma.mean()),
                "chroma_max_unclamped": float(chroma[inside].max()),
                "clamped_share": float(1 - inside.float().mean()),
            }
        )
    save_image(make_grid(cells, cell=192, labels=["photo", "style", "stylized", "--preserve-colors"]), PICTURES / "preserve_colors.jpg")
    # the exported files: parity (as export verifies it) and chroma of their own outputs
    exports = []
    net = PreserveColors(ctx.model.emit(ctx.stats(styles[0])))
    image = photo[0].permute(1, 2, 0).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, precision in (("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16")):
            record = export(net, name=f"keep-{precision}", formats=[fmt], sizes=[384], precision=precision, out_dir=Path(tmp))[0]
            runner = open_model(record.path, threads=1)
            got = torch.from_numpy(runner.run(image)).permute(2, 0, 1)[None]
            exports.append(
                {
                    "format": fmt,
                    "precision": precision,
                    "bytes": record.bytes,
                    "max_abs_error": record.max_abs_error,
                    "chroma_mae_vs_photo": float((ycbcr(got)[:, 1:] - ycbcr(photo)[:, 1:]).abs().mean()),
                }
            )
    return {"rows": rows, "exports": exports, "photo": "newyork.jpg (384 px centre crop)"}


# ------------------------------------------------------------------------------------------------------ detail
DETAIL_AMOUNTS = (0.0, 0.25, 0.5, 1.0)


def part_detail(ctx: Context, photos: int = 4) -> dict:
    """--keep-detail A on every held-out style x ``photos`` eval photos at 256 px, scored like `evaluate` against
    Magenta int8 on the same pairs (pairwise ratios); a picture; the exported files' parity."""
    magenta = MagentaStylizer(find_magenta_dir(SHARED / "peers"), "int8")
    contents = [center_crop_square(load_image(p), SIZE) for p in list_images(CONTENT)[:photos]]
    pairs: list[PairScore] = []
    for style_path in list_images(STYLES):
        style = load_image(style_path)
        target = ctx.scorer.style_targets(_tensor(resize_short_side(style, SIZE)))
        net = ctx.model.emit(ctx.encoder.statistics(style, ctx.style_size))
        bottleneck = magenta.style_bottleneck(style)
        for index, content in enumerate(contents):
            x = _tensor(content)
            features = ctx.scorer.content_features(x)
            reference = magenta.stylize_image(content, bottleneck)
            outputs = {"magenta": _tensor(reference), **{f"a={a:g}": _run(KeepDetail(net, a) if a else net, x) for a in DETAIL_AMOUNTS}}
            for method, out in outputs.items():
                pairs.append(PairScore(str(index), style_path.name, method, 0.0, **ctx.scorer.score(out, x, features, target)))
    rows = []
    for a in DETAIL_AMOUNTS:
        method = f"a={a:g}"
        ratio = {key: paired_ratio(pairs, method, "magenta", key)[0] for key in ("content_loss", "style_meanstd", "style_gram")}  # type: ignore[index]
        rows.append({"amount": a, **ratio, "ssim": float(np.mean([p.ssim for p in pairs if p.method == method]))})
    magenta_ssim = float(np.mean([p.ssim for p in pairs if p.method == "magenta"]))
    photo = ctx.photo("avril.jpg", 384)
    cells = []
    for style in ("candy.jpg", "the_scream.jpg", "mosaic.jpg"):
        net = ctx.model.emit(ctx.stats(style))
        row = [_image(photo[0].permute(1, 2, 0).numpy()), center_crop_square(load_image(STYLES / style), 384)]
        cells.append(row + [_image(_run(KeepDetail(net, a) if a else net, photo)[0].permute(1, 2, 0).numpy()) for a in (0.0, 0.5, 1.0)])
    labels = ["photo", "style", "stylized", "--keep-detail 0.5", "--keep-detail 1"]
    save_image(make_grid(cells, cell=192, labels=labels), PICTURES / "keep_detail.jpg")
    exports = []
    net = KeepDetail(ctx.model.emit(ctx.stats("candy.jpg")), 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, precision in (("onnx", "fp32"), ("tflite", "fp16")):
            record = export(net, name=f"detail-{precision}", formats=[fmt], sizes=[384], precision=precision, out_dir=Path(tmp))[0]
            exports.append({"format": fmt, "precision": precision, "bytes": record.bytes, "max_abs_error": record.max_abs_error})
    return {"rows": rows, "magenta_ssim": magenta_ssim, "pairs": len(pairs) // (len(DETAIL_AMOUNTS) + 1), "exports": exports}


# ------------------------------------------------------------------------------------------------------ noise
def part_noise(ctx: Context) -> dict:
    photo = ctx.photo("avril.jpg")
    cells, spread = [], []
    outs = []
    for seed in range(8):
        out = _run(random_net(ctx.model, seed), photo)
        outs.append(out)
        cells.append(_image(out[0].permute(1, 2, 0).numpy()))
    for i in range(8):
        for j in range(i + 1, 8):
            spread.append(float((outs[i] - outs[j]).abs().mean()))
    flat = [
        _image(
            _run(
                random_net(ctx.model, seed),
                torch.full((1, 3, SIZE, SIZE), 127.5) + 20 * torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)),
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        for seed in range(8)
    ]
    save_image(make_grid([cells[:4], cells[4:], flat[:4], flat[4:]], cell=192), PICTURES / "random_seeds.jpg")
    return {"seeds": list(range(8)), "mean_abs_difference_between_seeds": float(np.mean(spread)), "photo": "avril.jpg"}


# ------------------------------------------------------------------------------------------------------ tiles
def _big_photo(height: int, width: int) -> np.ndarray:
    """An eval photo upscaled (bicubic) to height x width: the largest eval photos are ~1024 px wide."""
    image = load_image(CONTENT / "newyork.jpg")
    return np.asarray(image.resize((width, height), Image.BICUBIC), np.float32)


def _probe(mode: str, net_file: Path, height: int, width: int, tile: int) -> dict:
    """Time and peak memory of one stylization in a fresh process that loads only the net: ``main --probe``."""
    command = [sys.executable, __file__, "--probe", mode, str(net_file), str(height), str(width), str(tile)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if result.returncode:
        return {"mode": mode, "error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"}
    return {"mode": mode, **json.loads(result.stdout.strip().splitlines()[-1])}


def _peak_mib() -> float:
    """VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(mode: str, net_file: str, height: int, width: int, tile: int) -> None:
    torch.set_grad_enabled(False)
    net = load_model(net_file, expect="TransformNet").model
    rgb = _big_photo(height, width)
    before = _peak_mib()
    started = time.perf_counter()
    if mode == "full":
        out = net(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    else:
        out = stylize_tiled(net, rgb, tile, exact=mode == "exact")
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": _peak_mib(),
                "peak_before_mib": before,
                "finite": bool(np.isfinite(out).all()),
            }
        )
    )


def part_tiles(ctx: Context) -> dict:
    tile = 512
    net = ctx.model.emit(ctx.stats("candy.jpg"))
    rows = []
    for side in (1024, 2048):
        rgb = _big_photo(side, side)
        with torch.no_grad():
            full = net(_nchw(rgb))[0].permute(1, 2, 0).numpy()
        for mode, kwargs in (
            ("downscaled 1024", {"stats_side": 1024}),
            ("downscaled 512", {"stats_side": 512}),
            ("exact", {"exact": True}),
        ):
            started = time.perf_counter()
            tiled = stylize_tiled(net, rgb, tile, **kwargs)
            seconds = time.perf_counter() - started
            diff = np.abs(tiled - full)
            rows.append(
                {
                    "side": side,
                    "stats": mode,
                    "mean_abs": float(diff.mean()),
                    "p99_abs": float(np.percentile(diff, 99)),
                    "max_abs": float(diff.max()),
                    "seconds": seconds,
                }
            )
            if side == 2048 and mode in ("downscaled 1024", "exact"):
                # seam close-up: 256 px around the first tile corner (core 384 + feather), full | tiled | 8x difference
                y = x = 384 - 128 + 16
                crops = [
                    full[y : y + 256, x : x + 256],
                    tiled[y : y + 256, x : x + 256],
                    np.clip(8 * diff[y : y + 256, x : x + 256], 0, 255),
                ]
                save_image(
                    make_grid([[_image(c) for c in crops]], cell=256, labels=["full frame", f"tiles ({mode})", "|difference| x 8"]),
                    PICTURES / f"tiles_seam_{mode.split()[0]}.jpg",
                )
    with tempfile.TemporaryDirectory() as tmp:
        net_file = save_model(
            LoadedModel(net, {"net": net.config.to_dict(), "model_class": "TransformNet", "style_size": 256}, Path(tmp)),
            Path(tmp) / "net.safetensors",
            fp16=False,
        )
        probes = [_probe(mode, net_file, 3024, 4032, tile) for mode in ("full", "tiles", "exact")]
    return {
        "tile": tile,
        "margin": 64,
        "feather": 32,
        "photo": "newyork.jpg upscaled (bicubic)",
        "vs_full_frame": rows,
        "photo_4032x3024": probes,
    }


def part_demo_tiles(ctx: Context, side: int = 256) -> dict:
    """The demos' whole-photo mode against the full frame: plain files (web src/tiles.js: every 256² tile normalised
    with its own instance-norm statistics), norm-statistics files (bundle --tiles: the centre crop's statistics for
    every tile, 64 px of context; computed here with the same net in PyTorch), and for reference fixed statistics
    from one pass over the whole photo downscaled to 256 px (``stylize_tiled(stats_side=256)``)."""
    rows = []
    for style in ("candy.jpg", "starry_night.jpg", "mosaic.jpg"):
        net = ctx.model.emit(ctx.stats(style))
        for height, width in ((768, 1024), (1536, 2048)):
            rgb = _big_photo(height, width)
            with torch.no_grad():
                full = net(_nchw(rgb))[0].permute(1, 2, 0).numpy()
            per_tile = stylize_per_tile(functools.partial(_run_hwc, net), rgb, side)
            crop = np.asarray(center_crop_square(_image(rgb), side), np.float32)
            crop_net = fixed_norm_net(net, norm_statistics(net, _nchw(crop)))  # what a norm-statistics file computes
            with_file = stylize_windows(functools.partial(_run_hwc, crop_net), rgb, side, margin_for(side), feather_for(side))
            fixed = stylize_tiled(net, rgb, 512, stats_side=side)
            plans = (
                (f"per tile ({side}² tiles, plain files)", per_tile),
                (f"centre-crop statistics ({side}² tiles, bundle --tiles)", with_file),
                (f"fixed, from a {side} px pass over the whole photo", fixed),
            )
            for plan, out in plans:
                diff = np.abs(out - full)
                rows.append({"style": style, "size": f"{width}x{height}", "statistics": plan, "mean_abs": float(diff.mean())})
    return {"side": side, "photo": "newyork.jpg upscaled (bicubic)", "rows": rows}


# ----------------------------------------------------------------------------------------------------- refine
def part_refine(ctx: Context, style: str = "the_scream.jpg", steps: tuple[int, ...] = (0, 10, 25, 50, 100), batch_size: int = 1) -> dict:
    """Loss on 4 held-out photos after N steps from three starts. Batch 1 keeps the run near 10 minutes on one thread
    (a step at batch 4 takes ~6 s here: seconds_per_step_batch_4)."""
    files = list_images(SHARED / "data" / "train" / "content")
    eval_batch = torch.cat([ctx.photo(p) for p in ("avril.jpg", "newyork.jpg", "lenna.jpg", "venice-boat.jpg")])
    style_image = load_image(STYLES / style)
    torch.manual_seed(0)
    starts = {
        "emitted (meta network)": ctx.model.emit(ctx.stats(style)),
        "MetaStyle init (metastyle8)": load_initialization(None, 8)[0],
        "random": TransformNet(ctx.model.config),
    }
    rows = []
    for label, net in starts.items():
        settings = refine_settings(max(steps), image_size=SIZE, batch_size=batch_size, style_size=ctx.style_size)
        result = refine_net(net, style_image, files, ctx.encoder.vgg, settings, eval_batch=eval_batch, eval_at=steps)
        rows.append(
            {
                "start": label,
                "losses": {str(k): v for k, v in sorted(result.eval_losses.items())},
                "seconds_per_step": result.seconds_per_step,
            }
        )
        print(label, rows[-1], flush=True)
    # the CLI's default batch (4): seconds per step only
    timing = refine_net(
        starts["emitted (meta network)"],
        style_image,
        files,
        ctx.encoder.vgg,
        refine_settings(3, image_size=SIZE, batch_size=4, style_size=ctx.style_size),
    )
    return {
        "style": style,
        "image_size": SIZE,
        "batch_size": batch_size,
        "lr": 1e-3,
        "eval_photos": 4,
        "rows": rows,
        "seconds_per_step_batch_4": timing.seconds_per_step,
        "loss": "content relu3_3 + 50 x mean/std style + 1e-6 TV (evaluate's total; clamped output)",
    }


def _load(part: str) -> dict | None:
    path = RESULTS / f"controls_{part}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def tables() -> str:
    """docs/controls.md's tables, from benchmarks/results/controls_*.json."""
    out = []
    if mix := _load("mix"):
        out.append(f"### Mix ({mix['model']['checkpoint']}, step {mix['model']['step']})\n")
        out.append("| pair | space | t | content | style vs A | style vs B | style vs mixed target | total vs mixed target | SSIM |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in mix["rows"]:
            out.append(
                f"| {r['pair']} | {r['space']} | {r['t']:g} | {r['content_loss']:.3g} | {r['style_to_a']:.3g} | {r['style_to_b']:.3g} | "
                f"{r['style_to_mix']:.3g} | {r['total_to_mix']:.3g} | {r['ssim']:.3f} |"
            )
        out.append("\nMean over the three in-between steps (t = 0.25, 0.5, 0.75) of both pairs:\n")
        out.append("| space | content | style vs mixed target | total vs mixed target | SSIM |\n|---|---|---|---|---|")
        for space, v in mix["summary_between_ends"].items():
            out.append(f"| {space} | {v['content_loss']:.3g} | {v['style_to_mix']:.3g} | {v['total_to_mix']:.3g} | {v['ssim']:.3f} |")
        out.append(f"\nhidden vs weights, pre-relu vs statistics: max abs difference {mix['twins_max_abs_difference']:.2g} grey levels\n")
    if colors := _load("colors"):
        out.append(
            "### Colours\n\n| style | chroma MAE, stylized | chroma MAE, --preserve-colors "
            "| max chroma error where not clamped | clamped pixels |"
        )
        out.append("|---|---|---|---|---|")
        for r in colors["rows"]:
            out.append(
                f"| {r['style']} | {r['chroma_mae_plain']:.2f} | {r['chroma_mae_kept']:.3f} | {r['chroma_max_unclamped']:.2g} | "
                f"{r['clamped_share']:.1%} |"
            )
        out.append(
            "\n| exported file | precision | size | max abs error vs PyTorch (export check) | chroma MAE vs photo |\n|---|---|---|---|---|"
        )
        for r in colors["exports"]:
            out.append(
                f"| {r['format']} | {r['precision']} | {r['bytes'] / 1024:.0f} KiB | {r['max_abs_error']:.2g} "
                f"| {r['chroma_mae_vs_photo']:.3f} |"
            )
        out.append("")
    if detail := _load("detail"):
        out.append(
            f"### Detail ({detail['model']['checkpoint']}; {detail['pairs']} held-out pairs at 256 px; pairwise vs Magenta int8, "
            f"whose SSIM is {detail['magenta_ssim']:.3f})\n"
        )
        out.append("| --keep-detail | content | style (mean/std) | Gram | SSIM vs photo |\n|---|---|---|---|---|")
        for r in detail["rows"]:
            ratios = " | ".join(f"{r[key]:.3f}×" for key in ("content_loss", "style_meanstd", "style_gram"))
            out.append(f"| {r['amount']:g} | {ratios} | {r['ssim']:.3f} |")
        out.append("\n| exported file (A = 0.5) | precision | size | max abs error vs PyTorch (export check) |\n|---|---|---|---|")
        for r in detail["exports"]:
            out.append(f"| {r['format']} | {r['precision']} | {r['bytes'] / 1024:.0f} KiB | {r['max_abs_error']:.2g} |")
        out.append("")
    if noise := _load("noise"):
        out.append(
            f"### Random\n\nmean abs difference between two seeds' outputs: {noise['mean_abs_difference_between_seeds']:.1f} grey levels\n"
        )
    if tiles := _load("tiles"):
        out.append(f"### Tiles (tile {tiles['tile']}, margin {tiles['margin']}, feather {tiles['feather']}; {tiles['photo']})\n")
        out.append("| side | statistics | mean abs diff vs full frame | p99 | max | seconds |\n|---|---|---|---|---|---|")
        for r in tiles["vs_full_frame"]:
            out.append(
                f"| {r['side']}² | {r['stats']} | {r['mean_abs']:.3g} | {r['p99_abs']:.3g} | {r['max_abs']:.3g} | {r['seconds']:.1f} |"
            )
        out.append("\n| 4032×3024, one thread | seconds | peak RSS (MiB) | peak RSS before stylizing (MiB) |\n|---|---|---|---|")
        for r in tiles["photo_4032x3024"]:
            if "error" in r:
                out.append(f"| {r['mode']} | failed: {r['error']} | | |")
            else:
                out.append(f"| {r['mode']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | {r['peak_before_mib']:.0f} |")
        out.append("")
    if demo := _load("demo_tiles"):
        out.append(f"### Demo tiles ({demo['side']}² files; {demo['photo']}): mean abs difference from the full frame\n")
        plans = list(dict.fromkeys(r["statistics"] for r in demo["rows"]))
        out.append("| style | size | " + " | ".join(plans) + " |\n|---|---|" + "---|" * len(plans))
        for key in dict.fromkeys((r["style"], r["size"]) for r in demo["rows"]):
            cells = {r["statistics"]: r["mean_abs"] for r in demo["rows"] if (r["style"], r["size"]) == key}
            out.append(f"| {key[0]} | {key[1]} | " + " | ".join(f"{cells[p]:.1f}" for p in plans) + " |")
        out.append("")
    if refine := _load("refine"):
        steps = list(refine["rows"][0]["losses"])
        out.append(
            f"### Refine ({refine['style']}, {refine['image_size']} px, batch {refine['batch_size']}, Adam {refine['lr']:g}; "
            f"batch 4: {refine.get('seconds_per_step_batch_4', float('nan')):.2f} s/step)\n"
        )
        out.append("| start | " + " | ".join(f"N={n}" for n in steps) + " | s/step |\n|---|" + "---|" * (len(steps) + 1))
        for r in refine["rows"]:
            out.append(f"| {r['start']} | " + " | ".join(f"{r['losses'][n]:.3g}" for n in steps) + f" | {r['seconds_per_step']:.2f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", default=["mix", "colors", "detail", "noise", "tiles", "demo_tiles", "refine"])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tables", action="store_true", help="print docs/controls.md's tables from the recorded results and stop")
    parser.add_argument("--probe", nargs=5, default=None, metavar=("MODE", "NET", "H", "W", "TILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.tables:
        print(tables())
        return
    if args.probe:
        probe(args.probe[0], args.probe[1], int(args.probe[2]), int(args.probe[3]), int(args.probe[4]))
        return
    PICTURES.mkdir(parents=True, exist_ok=True)
    ctx = Context(args.checkpoint)
    model = {"checkpoint": ctx.loaded.path.name, "step": ctx.loaded.header.get("step")}
    for part in args.parts:
        started = time.perf_counter()
        with torch.no_grad() if part != "refine" else torch.enable_grad():
            data = {
                "mix": lambda: part_mix(ctx),
                "colors": lambda: part_colors(ctx),
                "detail": lambda: part_detail(ctx),
                "noise": lambda: part_noise(ctx),
                "tiles": lambda: part_tiles(ctx),
                "demo_tiles": lambda: part_demo_tiles(ctx),
                "refine": lambda: part_refine(ctx),
            }[part]()
        _write(part, {"model": model, "seconds": round(time.perf_counter() - started, 1), **data})
        print(f"{part}: {time.perf_counter() - started:.0f} s -> benchmarks/results/controls_{part}.json", flush=True)


if __name__ == "__main__":
    main()
