"""Reading and writing pictures robustly: every bad input becomes one clear MobilestyleError."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from mobilestyle.atomic import atomic_path
from mobilestyle.errors import MobilestyleError

MIN_SIDE = 16
MAX_PIXELS = 50_000_000  # decoded pictures (JPEGs larger than this are decoded downscaled, other formats refused)
MAX_ASPECT = 20  # long side / short side of any input picture
MAX_STYLE_ASPECT = 4  # style pictures are centre-cropped to this before they are resized
MAX_WORK_SIDE = 4096  # ceiling of every --size
MAX_WORK_PIXELS = 4096 * 4096  # ceiling of any resized working picture (16.8 MP), checked before it is allocated
# Let PIL open large headers so that we can refuse or downscale them ourselves.
Image.MAX_IMAGE_PIXELS = None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, I, F) to 8-bit RGB."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        peak = 1.0 if array.max() <= 1.0 else 255.0
        return Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        return image.convert("RGB")
    return image.convert("RGB")


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Open an image as 8-bit RGB with EXIF orientation applied.

    Images over ``max_pixels`` are downscaled while decoding where the format allows it (JPEG
    draft mode) and refused otherwise, so a huge file is never decoded whole.
    """
    path = Path(path)
    if not path.exists():
        raise MobilestyleError(f"{path}: no such file")
    if path.is_dir():
        raise MobilestyleError(f"{path}: is a folder, not an image")
    return _decode(path, str(path), max_pixels, min_side)


def load_image_bytes(data: bytes, label: str, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """``load_image`` for bytes in memory (an upload); ``label`` names them in error messages."""
    if not data:
        raise MobilestyleError(f"{label}: empty file, not an image")
    return _decode(io.BytesIO(data), label, max_pixels, min_side)


def _decode(source: Path | io.BytesIO, path: str, max_pixels: int, min_side: int) -> Image.Image:
    try:
        image: Image.Image = Image.open(source)
    except UnidentifiedImageError:
        raise MobilestyleError(f"{path}: not an image (format not recognised)") from None
    except OSError as exc:
        raise MobilestyleError(f"{path}: cannot read ({exc})") from None
    with image:
        if getattr(image, "n_frames", 1) > 1 and getattr(image, "is_animated", False):
            raise MobilestyleError(f"{path}: animated image with {getattr(image, 'n_frames', 1)} frames; pass a still image")
        width, height = image.size
        if min(width, height) < min_side:
            raise MobilestyleError(f"{path}: image is {width}x{height}, smaller than {min_side} px on a side")
        if max(width, height) > MAX_ASPECT * min(width, height):
            raise MobilestyleError(f"{path}: image is {width}x{height}, more than {MAX_ASPECT}:1 long; crop it first")
        if width * height > max_pixels:
            if image.format != "JPEG":
                raise MobilestyleError(
                    f"{path}: image is {width}x{height} ({width * height / 1e6:.0f} MP), over the "
                    f"{max_pixels / 1e6:.0f} MP limit; downscale it first"
                )
            scale = (max_pixels / (width * height)) ** 0.5
            image.draft("RGB", (int(width * scale), int(height * scale)))
            if image.size[0] * image.size[1] > max_pixels * 4:
                raise MobilestyleError(f"{path}: image is {width}x{height}, too large to decode")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = _to_rgb(image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise MobilestyleError(f"{path}: truncated or corrupt image ({exc})") from None
    if rgb.size[0] * rgb.size[1] > max_pixels:
        scale = (max_pixels / (rgb.size[0] * rgb.size[1])) ** 0.5
        rgb = rgb.resize((max(1, int(rgb.size[0] * scale)), max(1, int(rgb.size[1] * scale))), Image.Resampling.LANCZOS)
    return rgb


def resize_short_side(image: Image.Image, short_side: int, multiple: int = 1) -> Image.Image:
    """Resize so the shorter side is ``short_side``; both sides rounded to a multiple of ``multiple``.

    A result over MAX_WORK_PIXELS is refused before anything is allocated.
    """
    width, height = image.size
    scale = short_side / min(width, height)
    new_w = max(multiple, round(width * scale / multiple) * multiple)
    new_h = max(multiple, round(height * scale / multiple) * multiple)
    if new_w * new_h > MAX_WORK_PIXELS:
        raise MobilestyleError(
            f"a {width}x{height} picture at short side {short_side} would be {new_w}x{new_h} "
            f"({new_w * new_h / 1e6:.0f} MP), over the {MAX_WORK_PIXELS / 1e6:.1f} MP working limit; use a smaller --size"
        )
    if (new_w, new_h) == (width, height):
        return image
    return image.resize((new_w, new_h), Image.Resampling.LANCZOS)


def fit_short_side(image: Image.Image, multiple: int = 4, max_pixels: int = MAX_WORK_PIXELS) -> int:
    """The largest short side (a multiple of ``multiple``, at most the picture's own) whose resize fits ``max_pixels``."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    limit = int((max_pixels * short / long) ** 0.5)
    return max(multiple, min(short, limit) // multiple * multiple)


def crop_aspect(image: Image.Image, max_aspect: float = MAX_STYLE_ASPECT) -> Image.Image:
    """Centre-crop the long side to ``max_aspect`` times the short side (a no-op for ordinary pictures)."""
    width, height = image.size
    short = min(width, height)
    if max(width, height) <= max_aspect * short:
        return image
    keep = int(max_aspect * short)
    if width > height:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))


def prepare_style(image: Image.Image, style_size: int) -> Image.Image:
    """A style picture as the networks read it: aspect cropped to MAX_STYLE_ASPECT first, then short side ``style_size``."""
    return resize_short_side(crop_aspect(image), style_size)


def center_crop_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the short side to ``size`` and crop the centre square."""
    image = resize_short_side(image, size)
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor 1x3xHxW in 0..255."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0)


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Float tensor (1x)3xHxW in 0..255 -> PIL RGB (clamped, rounded)."""
    if tensor.dim() == 4:
        tensor = tensor[0]
    array = tensor.detach().float().clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Save atomically; the format follows the suffix (PNG when there is none we know)."""
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise MobilestyleError(f"{path}: unknown image suffix; use .png, .jpg or .webp")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        image.save(handle, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def make_grid(rows: list[list[Image.Image]], cell: int = 256, labels: list[str] | None = None) -> Image.Image:
    """Lay out rows of pictures as a grid of ``cell``-high tiles (widths keep aspect), optional header."""
    header = 18 if labels else 0
    scaled = [[im.resize((max(1, round(im.size[0] * cell / im.size[1])), cell), Image.Resampling.LANCZOS) for im in row] for row in rows]
    n_cols = max(len(row) for row in scaled)
    col_w = [max((row[c].size[0] for row in scaled if c < len(row)), default=cell) for c in range(n_cols)]
    grid = Image.new("RGB", (sum(col_w) + 2 * (n_cols - 1), header + len(rows) * cell + 2 * (len(rows) - 1)), "white")
    draw = ImageDraw.Draw(grid)
    x_starts = [sum(col_w[:c]) + 2 * c for c in range(n_cols)]
    if labels:
        for c, label in enumerate(labels[:n_cols]):
            draw.text((x_starts[c] + 4, 3), label, fill="black")
    for r, row in enumerate(scaled):
        for c, im in enumerate(row):
            grid.paste(im, (x_starts[c], header + r * (cell + 2)))
    return grid
