"""Procedural abstract styles: flat-colour compositions, tiles, shapes, stripes, colour fields and strokes.

The 1,948 PACS training paintings are mostly figurative, soft-edged and muted; styles users bring are often not
(geometric abstraction, mosaics, posters, bold strokes). These pictures cover that part of the style space at no
cost: each is a pure function of (seed, index), drawn with Pillow/numpy in a few milliseconds, and only its VGG
statistics are kept (``--synthetic-styles N``, docs/training.md section 6).
"""

from __future__ import annotations

import colorsys
import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
FAMILIES = ("blocks", "tiles", "shapes", "stripes", "fields", "strokes")


def random_palette(rng: random.Random) -> list[Colour]:
    """3-7 colours: vivid, muted or analogous hues, sometimes with black and an off-white."""
    count = rng.randint(3, 7)
    scheme = rng.choice(("vivid", "muted", "analogous"))
    base_hue = rng.random()
    colours = []
    for _ in range(count):
        if scheme == "analogous":
            hue = (base_hue + rng.uniform(-0.12, 0.12)) % 1.0
            saturation, value = rng.uniform(0.3, 1.0), rng.uniform(0.25, 1.0)
        elif scheme == "vivid":
            hue, saturation, value = rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)
        else:
            hue, saturation, value = rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.9)
        colours.append(tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value)))
    if rng.random() < 0.5:
        colours.append((rng.randint(0, 40),) * 3)
    if rng.random() < 0.5:
        colours.append(tuple(rng.randint(225, 255) for _ in range(3)))
    return colours  # type: ignore[return-value]


def _blocks(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Recursive rectangle subdivision, optionally with dark dividing lines."""
    image = Image.new("RGB", (width, height), palette[0])
    draw = ImageDraw.Draw(image)
    line = rng.choice((0, 0, rng.randint(2, 8)))
    line_colour = (rng.randint(0, 30),) * 3

    def split(box: tuple[int, int, int, int], depth: int, always: bool = False) -> None:
        left, top, right, bottom = box
        w, h = right - left, bottom - top
        if depth > 0 and min(w, h) > 24 and (always or rng.random() < 0.8):
            if w >= h:
                cut = rng.randint(left + w // 5, right - w // 5)
                split((left, top, cut, bottom), depth - 1)
                split((cut, top, right, bottom), depth - 1)
            else:
                cut = rng.randint(top + h // 5, bottom - h // 5)
                split((left, top, right, cut), depth - 1)
                split((left, cut, right, bottom), depth - 1)
            return
        draw.rectangle(box, fill=rng.choice(palette), outline=line_colour if line else None, width=line)

    split((0, 0, width - 1, height - 1), rng.randint(2, 6), always=True)
    return image


def _tiles(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Voronoi cells (mosaic, stained glass), with or without grout lines."""
    cells = rng.randint(12, 400)
    points = np.array([[rng.uniform(0, width), rng.uniform(0, height)] for _ in range(cells)], dtype=np.float32)
    colours = np.array([rng.choice(palette) for _ in range(cells)], dtype=np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = (xs[..., None] - points[:, 0]) ** 2 + (ys[..., None] - points[:, 1]) ** 2
    nearest = np.argsort(distance, axis=-1)[..., :2]
    first = np.take_along_axis(distance, nearest[..., :1], -1)[..., 0]
    second = np.take_along_axis(distance, nearest[..., 1:], -1)[..., 0]
    pixels = colours[nearest[..., 0]]
    if rng.random() < 0.7:
        grout = np.sqrt(second) - np.sqrt(first) < rng.uniform(1.0, 4.0)
        pixels[grout] = rng.choice(((30, 30, 30), (235, 230, 220), rng.choice(palette)))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _shapes(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Overlapping circles, rectangles, triangles and bars on a plain ground."""
    image = Image.new("RGB", (width, height), palette[0])
    draw = ImageDraw.Draw(image)
    outline = rng.random() < 0.4
    for _ in range(rng.randint(4, 60)):
        size = rng.uniform(0.03, 0.45) * min(width, height)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        colour = rng.choice(palette)
        edge = (20, 20, 20) if outline else None
        kind = rng.choice(("circle", "rectangle", "triangle", "bar"))
        if kind == "circle":
            draw.ellipse((x - size, y - size, x + size, y + size), fill=colour, outline=edge, width=2)
        elif kind == "rectangle":
            draw.rectangle((x - size, y - size * rng.uniform(0.3, 1), x + size, y + size), fill=colour, outline=edge, width=2)
        elif kind == "triangle":
            corners = [(x + size * math.cos(a), y + size * math.sin(a)) for a in (rng.uniform(0, 2 * math.pi) for _ in range(3))]
            draw.polygon(corners, fill=colour, outline=edge)
        else:
            angle = rng.uniform(0, math.pi)
            dx, dy = size * 2 * math.cos(angle), size * 2 * math.sin(angle)
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour, width=max(2, int(size / 4)))
    return image


def _stripes(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Parallel bands, straight or wavy, of random widths."""
    angle = rng.choice((0.0, math.pi / 2, rng.uniform(0, math.pi)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    position = xs * math.cos(angle) + ys * math.sin(angle)
    if rng.random() < 0.5:
        wave = rng.uniform(4, 30)
        position = position + wave * np.sin((xs * math.sin(angle) - ys * math.cos(angle)) / rng.uniform(10, 60))
    period = rng.uniform(6, 60)
    colours = np.array([rng.choice(palette) for _ in range(16)], dtype=np.uint8)
    band = np.floor(position / period).astype(np.int64) % len(colours)
    return Image.fromarray(colours[band])


def _smooth_noise(rng: random.Random, width: int, height: int, scale: float) -> np.ndarray:
    small = np.random.default_rng(rng.getrandbits(32)).random((max(2, int(height / scale)), max(2, int(width / scale))))
    field = Image.fromarray((small * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(field.filter(ImageFilter.GaussianBlur(scale / 4)), dtype=np.float32) / 255


def _fields(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Posterised smooth noise: colour fields and blobs with hard or soft edges."""
    field = _smooth_noise(rng, width, height, rng.uniform(12, 90))
    levels = np.quantile(field, np.linspace(0, 1, len(palette) + 1)[1:-1])
    pixels = np.array(palette, dtype=np.uint8)[np.searchsorted(levels, field)]
    image = Image.fromarray(pixels)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(1, 6))) if rng.random() < 0.3 else image


def _strokes(rng: random.Random, width: int, height: int, palette: list[Colour]) -> Image.Image:
    """Short thick strokes following a smooth direction field over a colour-field ground."""
    image = _fields(rng, width, height, palette)
    draw = ImageDraw.Draw(image)
    direction = _smooth_noise(rng, width, height, rng.uniform(30, 120)) * 2 * math.pi * rng.uniform(0.5, 2)
    length, thickness = rng.uniform(6, 30), rng.randint(2, 9)
    for _ in range(rng.randint(300, 2500)):
        x, y = rng.randrange(width), rng.randrange(height)
        angle = float(direction[y, x])
        dx, dy = length * math.cos(angle), length * math.sin(angle)
        draw.line((x - dx, y - dy, x + dx, y + dy), fill=rng.choice(palette), width=thickness)
    return image


_DRAW: dict[str, Callable[[random.Random, int, int, list[Colour]], Image.Image]] = {
    "blocks": _blocks,
    "tiles": _tiles,
    "shapes": _shapes,
    "stripes": _stripes,
    "fields": _fields,
    "strokes": _strokes,
}


def synthetic_style(index: int, seed: int = 0, size: int = 256) -> Image.Image:
    """Synthetic style picture ``index`` (short side ``size``, aspect up to 3:2), the same for the same arguments."""
    rng = random.Random(f"synthetic-{seed}-{index}")
    family = FAMILIES[index % len(FAMILIES)]
    long_side = int(size * rng.uniform(1.0, 1.5))
    width, height = (long_side, size) if rng.random() < 0.5 else (size, long_side)
    image = _DRAW[family](rng, width, height, random_palette(rng))
    if rng.random() < 0.3:  # canvas or paper grain
        grain = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(4, 14), (height, width, 1))
        image = Image.fromarray((np.asarray(image, dtype=np.float32) + grain).clip(0, 255).astype(np.uint8))
    return image
