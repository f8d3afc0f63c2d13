"""Training data: folders of pictures, random short-side resize and crop, unreadable files skipped."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from mobilestyle.errors import MobilestyleError
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, prepare_style, resize_short_side

log = logging.getLogger("mobilestyle.data")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def list_images(folder: str | Path) -> list[Path]:
    """All image files below ``folder`` (recursively), sorted for reproducibility."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MobilestyleError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise MobilestyleError(f"no images (jpg, png, ...) in {folder}")
    return files


def readable_images(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split into files whose header opens and those that do not (cheap: no full decode)."""
    good, bad = [], []
    for path in files:
        try:
            with Image.open(path) as im:
                im.verify()
            good.append(path)
        except Exception:
            bad.append(path)
    return good, bad


def random_crop(image: Image.Image, size: int, rng: random.Random, scale_range: tuple[float, float]) -> torch.Tensor:
    """Short side random in [size*lo, size*hi], then a random size x size crop (Shen: 256..480 for 256)."""
    short = rng.randint(round(size * scale_range[0]), round(size * scale_range[1]))
    image = resize_short_side(image, max(short, size))
    width, height = image.size
    left, top = rng.randint(0, width - size), rng.randint(0, height - size)
    return image_to_tensor(image.crop((left, top, left + size, top + size)))[0]


class CropStream(IterableDataset):
    """Endless random crops from a list of files; each worker gets its own seeded stream.

    A file that fails to decode at training time is logged, dropped and replaced by another.
    """

    def __init__(self, files: list[Path], size: int, seed: int, rank: int = 0, scale_range: tuple[float, float] = (1.0, 480 / 256)) -> None:
        self.files, self.size, self.seed, self.rank, self.scale_range = files, size, seed, rank, scale_range

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = get_worker_info()
        worker = info.id if info else 0
        rng = random.Random(hash((self.seed, self.rank, worker)))
        files = list(self.files)
        while files:
            path = files[rng.randrange(len(files))]
            try:
                image = load_image(path)
            except MobilestyleError as exc:
                log.warning("skipping unreadable training image: %s", exc)
                files.remove(path)
                continue
            yield random_crop(image, self.size, rng, self.scale_range)


def batch_rng(seed: int, rank: int, step: int) -> random.Random:
    """The random stream of one batch: a pure function of (seed, rank, step), whatever ran before."""
    return random.Random(f"mobilestyle-crops:{seed}:{rank}:{step}")


class CropBatches(Dataset):
    """Item ``step`` is the batch of random crops for that training step, drawn from ``batch_rng(seed, rank, step)``.

    Because no state carries from one batch to the next, a run resumed at step K sees exactly the batches
    K+1, K+2, ... of the uninterrupted run, with any number of workers. A file that fails to decode is logged and
    skipped (another draw from the same stream replaces it, so the skip is deterministic too).
    """

    def __init__(
        self, files: list[Path], size: int, batch_size: int, seed: int, rank: int = 0, scale_range: tuple[float, float] = (1.0, 480 / 256)
    ) -> None:
        if not files:
            raise MobilestyleError("no content images to crop")
        self.files, self.size, self.batch_size = list(files), size, batch_size
        self.seed, self.rank, self.scale_range = seed, rank, scale_range
        self.bad: set[Path] = set()

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> torch.Tensor:
        rng = batch_rng(self.seed, self.rank, step)
        return torch.stack([self._crop(rng) for _ in range(self.batch_size)])

    def _crop(self, rng: random.Random) -> torch.Tensor:
        while len(self.bad) < len(self.files):
            path = self.files[rng.randrange(len(self.files))]
            if path in self.bad:
                continue
            try:
                image = load_image(path)
            except MobilestyleError as exc:
                log.warning("skipping unreadable training image: %s", exc)
                self.bad.add(path)
                continue
            return random_crop(image, self.size, rng, self.scale_range)
        raise MobilestyleError(f"none of the {len(self.files)} content images decodes (all unreadable or corrupt)")


class OneLineErrors:
    """Batches from a DataLoader iterator; a MobilestyleError raised in a worker comes back wrapped in a traceback
    text, so only its own last line is kept. ``_shutdown_workers`` reaches the wrapped iterator (loop.py stops it)."""

    def __init__(self, batches: Iterator[torch.Tensor]) -> None:
        self.batches = batches

    def __iter__(self) -> OneLineErrors:
        return self

    def __next__(self) -> torch.Tensor:
        try:
            return next(self.batches)
        except MobilestyleError as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            last = lines[-1].removeprefix("mobilestyle.errors.MobilestyleError: ") if lines else ""
            raise MobilestyleError(last) from None

    def _shutdown_workers(self) -> None:
        shutdown = getattr(self.batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


def crop_loader(
    files: list[Path], size: int, batch_size: int, seed: int, workers: int, rank: int = 0, start: int = 0
) -> Iterator[torch.Tensor]:
    """Endless iterator of B x 3 x size x size batches (0..255 RGB floats) for steps start, start+1, ...

    Batch ``step`` depends only on (seed, rank, step): see CropBatches. The loader has its own torch generator,
    so creating it does not draw from the global torch RNG (which a checkpoint saves and restores).
    """
    loader = DataLoader(
        CropBatches(files, size, batch_size, seed, rank),
        batch_size=None,
        sampler=itertools.count(start),
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
    )
    return OneLineErrors(iter(loader))


class StyleSampler:
    """Picks style images at random and prepares them at a fixed short side (cached after first use)."""

    def __init__(self, files: list[Path], size: int, seed: int) -> None:
        self.files, self.size = list(files), size
        self.rng = random.Random(seed)
        self.skipped = 0

    def sample(self) -> tuple[Path, torch.Tensor]:
        while self.files:
            path = self.files[self.rng.randrange(len(self.files))]
            try:
                image = load_image(path)
            except MobilestyleError as exc:
                log.warning("skipping unreadable style image: %s", exc)
                self.files.remove(path)
                self.skipped += 1
                continue
            return path, image_to_tensor(prepare_style(image, self.size))
        raise MobilestyleError("no readable style images left")

    def load(self, path: Path) -> torch.Tensor:
        """A given style image, prepared like ``sample``'s (no random draw: a resumed run reloads its current style)."""
        return image_to_tensor(prepare_style(load_image(path), self.size))

    def state(self) -> object:
        return self.rng.getstate()

    def set_state(self, state: Any) -> None:
        self.rng.setstate(state)


class FixedImages(Dataset):
    """A small fixed set of centre crops, e.g. for sample grids."""

    def __init__(self, files: list[Path], size: int) -> None:
        self.images = [image_to_tensor(center_crop_square(load_image(p), size))[0] for p in files]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]
