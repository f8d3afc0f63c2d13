"""Training data prepared once and cached, so the training loop decodes no JPEG and runs no VGG on styles.

- content photos: short side resized to ``side``, centre square, one uint8 tensor N x 3 x side x side;
- style statistics: the 1920 VGG mean/std values of every style image at each short side asked for (the meta
  network's input at the model's style size, and the style-loss targets at the training resolutions);
- teacher pairs (optional): (photo, style, teacher output) triples from Magenta's arbitrary-style TFLite peer,
  dense targets for a fast first training stage.

Each cache file is keyed by a hash of the files' names and bytes and the settings (not their mtimes: a data folder
copied or mounted again keeps its caches), written atomically
with safetensors under ``~/.cache/mobilestyle/datasets`` (or ``--data-cache``); a corrupt file is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from mobilestyle.atomic import atomic_path
from mobilestyle.baselines.magenta import MagentaStylizer, Variant
from mobilestyle.errors import MobilestyleError
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, resize_short_side
from mobilestyle.training.synthetic_styles import FAMILIES, synthetic_style
from mobilestyle.vgg import VGGEncoder, cache_dir, style_statistics

log = logging.getLogger("mobilestyle.datasets")
CACHE_VERSION = 2


def default_data_cache() -> Path:
    return cache_dir() / "datasets"


def files_key(files: Sequence[Path], **settings: object) -> str:
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True).encode())
    for path in files:
        digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()[:16]


def _cached(path: Path, build: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    if path.is_file():
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, RuntimeError) as exc:
            log.warning("rebuilding corrupt cache file %s (%s)", path, exc)
    tensors = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    return tensors


def _square_uint8(path: Path, side: int) -> torch.Tensor | None:
    try:
        image = load_image(path)
    except MobilestyleError as exc:
        log.warning("skipping unreadable image: %s", exc)
        return None
    return torch.from_numpy(np.asarray(center_crop_square(image, side), dtype=np.uint8).copy()).permute(2, 0, 1)


def content_tensors(files: Sequence[Path], side: int, cache: Path, progress: bool = True) -> torch.Tensor:
    """N x 3 x side x side uint8 centre squares of the readable photos."""

    def build() -> dict[str, torch.Tensor]:
        squares = [_square_uint8(p, side) for p in tqdm(files, desc=f"content photos -> {side}px", disable=not progress)]
        kept = [s for s in squares if s is not None]
        if not kept:
            raise MobilestyleError("no readable content photos")
        return {"images": torch.stack(kept)}

    return _cached(cache / f"content-{files_key(files, side=side)}.safetensors", build)["images"]


@torch.no_grad()
def _image_statistics(image: Image.Image, size: int, vgg: VGGEncoder) -> torch.Tensor:
    """The 1920 VGG statistics of one picture at short side ``size``."""
    return style_statistics(vgg(image_to_tensor(resize_short_side(image, size))))[0]


@torch.no_grad()
def _statistics_rows(
    files: Sequence[Path],
    size: int,
    vgg: VGGEncoder,
    desc: str,
    progress: bool,
    transform: Callable[[int, Image.Image], Image.Image] | None = None,
) -> torch.Tensor:
    """N x 1920 VGG statistics of (optionally transformed) images at short side ``size``; unreadable: NaN rows."""
    rows = []
    for index, path in enumerate(tqdm(files, desc=desc, disable=not progress)):
        try:
            image = load_image(path)
            image = transform(index, image) if transform else image
            rows.append(_image_statistics(image, size, vgg))
        except MobilestyleError as exc:
            log.warning("skipping unreadable style image: %s", exc)
            rows.append(torch.full((1920,), float("nan")))
    return torch.stack(rows).float()


def style_statistics_table(files: Sequence[Path], size: int, vgg: VGGEncoder, cache: Path, progress: bool = True) -> torch.Tensor:
    """N x 1920 float32 VGG statistics of every style image at short side ``size``; unreadable files are rows of NaN."""
    return _cached(
        cache / f"styles-{files_key(files, size=size)}.safetensors",
        lambda: {"stats": _statistics_rows(files, size, vgg, f"style statistics @ {size}px", progress)},
    )["stats"]


def load_statistics_table(path: str | Path) -> torch.Tensor:
    """A saved N x 1920 statistics table ('stats', any float dtype, e.g. a styles-*.safetensors cache file) as float32."""
    try:
        stats = load_file(str(path)).get("stats")
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise MobilestyleError(f"style statistics {path} are unreadable ({type(exc).__name__})") from None
    if stats is None or stats.ndim != 2 or stats.shape[1] != 1920:
        raise MobilestyleError(f"style statistics {path} hold no N x 1920 'stats' table")
    return stats.float()


def augment_style(image: Image.Image, rng: random.Random) -> Image.Image:
    """A new style from a painting: a random crop of 40-100 % of its area (bigger strokes), a random hue
    rotation, saturation x0.8-1.8 and contrast x0.8-1.4 (the training paintings are duller than most styles
    users bring)."""
    width, height = image.size
    keep = math.sqrt(rng.uniform(0.4, 1.0))
    crop_w, crop_h = max(16, int(width * keep)), max(16, int(height * keep))
    left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
    hsv = np.asarray(image.crop((left, top, left + crop_w, top + crop_h)).convert("HSV")).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(0, 256)) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.8), 0, 255)
    shifted = Image.fromarray(hsv.round().astype(np.uint8), "HSV").convert("RGB")
    return ImageEnhance.Contrast(shifted).enhance(rng.uniform(0.8, 1.4))


def augmented_style_statistics(
    files: Sequence[Path], size: int, variants: int, vgg: VGGEncoder, cache: Path, seed: int = 0, progress: bool = True
) -> torch.Tensor:
    """(variants x N) x 1920 statistics of ``augment_style`` variants of every style image (NaN rows: unreadable)."""

    def build() -> dict[str, torch.Tensor]:
        tables = []
        for variant in range(variants):

            def recolour(index: int, image: Image.Image, variant: int = variant) -> Image.Image:
                return augment_style(image, random.Random(f"{seed}-{variant}-{index}"))

            tables.append(_statistics_rows(files, size, vgg, f"style variants {variant + 1}/{variants} @ {size}px", progress, recolour))
        return {"stats": torch.cat(tables)}

    key = files_key(files, size=size, variants=variants, seed=seed)
    return _cached(cache / f"style-variants-{key}.safetensors", build)["stats"]


def synthetic_style_statistics(count: int, size: int, vgg: VGGEncoder, cache: Path, seed: int = 0, progress: bool = True) -> torch.Tensor:
    """``count`` x 1920 statistics of the procedural styles of training/synthetic_styles.py at short side ``size``."""

    def build() -> dict[str, torch.Tensor]:
        rows = [
            _image_statistics(synthetic_style(index, seed, size), size, vgg)
            for index in tqdm(range(count), desc=f"synthetic styles @ {size}px", disable=not progress)
        ]
        return {"stats": torch.stack(rows).float()}

    key = files_key([], size=size, synthetic=count, seed=seed, families=list(FAMILIES))
    return _cached(cache / f"style-synthetic-{key}.safetensors", build)["stats"]


# --- teacher pairs (Magenta) -------------------------------------------------------------------------------


@dataclass
class _TeacherWorker:
    """One teacher process's Magenta stylizer and the style bottlenecks it has computed so far."""

    stylizer: MagentaStylizer
    bottlenecks: dict[int, np.ndarray] = field(default_factory=dict)


_worker: _TeacherWorker | None = None  # set by _teacher_init in each pool process (or in this one)


def _teacher_init(magenta_dir: str, variant: Variant) -> None:
    global _worker
    torch.set_num_threads(1)
    _worker = _TeacherWorker(MagentaStylizer(magenta_dir, variant, threads=1))


def _teacher_pair(job: tuple[str, str, int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    content_path, style_path, style_index, side = job
    assert _worker is not None, "_teacher_init runs first"
    stylizer, bottlenecks = _worker.stylizer, _worker.bottlenecks
    try:
        photo = load_image(content_path)
        if style_index not in bottlenecks:
            bottlenecks[style_index] = stylizer.style_bottleneck(load_image(style_path))
        output = stylizer.stylize(photo, bottlenecks[style_index])
    except MobilestyleError:
        return None
    big = stylizer.content_side
    content = center_crop_square(photo, big).resize((side, side), Image.Resampling.LANCZOS)
    target = Image.fromarray(np.round(output).astype(np.uint8)).resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(content, dtype=np.uint8), np.asarray(target, dtype=np.uint8)


def teacher_pairs(
    content_files: Sequence[Path],
    style_files: Sequence[Path],
    count: int,
    side: int,
    magenta_dir: Path,
    cache: Path,
    seed: int = 0,
    processes: int = 2,
    variant: Variant = "fp16",
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """``count`` random (photo, style) pairs stylized by Magenta: content, target (N x 3 x side x side uint8), style index."""
    key = files_key([*content_files, *style_files], count=count, side=side, seed=seed, variant=variant)

    def build() -> dict[str, torch.Tensor]:
        rng = random.Random(seed)
        # a few styles per batch of pairs, so each worker reuses its style bottlenecks
        style_order = [rng.randrange(len(style_files)) for _ in range(count)]
        jobs = [(str(rng.choice(content_files)), str(style_files[s]), s, side) for s in style_order]
        contents, targets, indices = [], [], []
        pool = None
        results: Iterator[tuple[np.ndarray, np.ndarray] | None]
        if processes > 1:
            pool = multiprocessing.get_context("spawn").Pool(processes, _teacher_init, (str(magenta_dir), variant))
            results = pool.imap(_teacher_pair, jobs, chunksize=8)
        else:
            _teacher_init(str(magenta_dir), variant)
            results = map(_teacher_pair, jobs)
        try:
            for job, result in tqdm(zip(jobs, results), total=len(jobs), desc=f"teacher pairs @ {side}px", disable=not progress):
                if result is None:
                    continue
                contents.append(torch.from_numpy(result[0].copy()).permute(2, 0, 1))
                targets.append(torch.from_numpy(result[1].copy()).permute(2, 0, 1))
                indices.append(job[2])
        finally:
            if pool is not None:
                pool.terminate()
        if not contents:
            raise MobilestyleError("no teacher pair could be made (unreadable images?)")
        return {"content": torch.stack(contents), "target": torch.stack(targets), "style_index": torch.tensor(indices)}

    return _cached(cache / f"teacher-{key}.safetensors", build)
