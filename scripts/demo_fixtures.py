"""Golden fixtures for the Android demo's Java core (android_demo/core): Python's pre- and post-processing,
written out so the Java tests prove both sides compute the same pixels.

The Python side is the reference: `mobilestyle.images.center_crop_square` (PIL Lanczos resize of the short
side, then the centre square), NHWC float tensors on 0..255, `tensor_to_image` (clamp, round half to
even) and `blend` below (what the app's strength slider does). Pixels travel as Android's packed ARGB
ints (0xAARRGGBB as signed 32-bit values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from mobilestyle.atomic import atomic_write_text, ensure_writable_dir
from mobilestyle.controls.colors import PreserveColors
from mobilestyle.controls.detail import DEFAULT_SIGMA, KeepDetail, gaussian_kernel, luma_detail
from mobilestyle.controls.tiles import _tiles
from mobilestyle.images import center_crop_square, tensor_to_image
from mobilestyle.mix_ladders import ladder, mix_name, mix_record, partners, pickable

FIXTURE_FILES = ("preprocess.json", "postprocess.json", "blend.json", "colors.json", "detail.json", "tiles.json", "mixes.json")
# (width, height, crop sizes): landscape and portrait sources, crops that downscale, keep and upscale.
SOURCES = ((37, 27, (16, 24, 27, 36)), (22, 45, (12, 20, 22, 32)))


def to_argb(rgb: np.ndarray) -> list[int]:
    """HxWx3 uint8 -> row-major packed ARGB (alpha 255) as signed 32-bit ints, like android.graphics.Bitmap.getPixels."""
    rgb = rgb.astype(np.uint32)
    packed = (0xFF << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    return packed.astype(np.uint32).view(np.int32).ravel().tolist()


def blend(content: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
    """The strength slider: strength * stylized + (1 - strength) * content, in float32, rounded half to even."""
    s = np.float32(strength)
    mixed = s * stylized.astype(np.float32) + (np.float32(1) - s) * content.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def synthetic_photo(width: int, height: int, seed: int) -> np.ndarray:
    """A deterministic photo-like picture: smooth gradients, hard edges and noise (exercises every filter tap)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([x / width * 255, y / height * 255, (x + y) % 32 * 8], axis=-1)
    base[(x // 9 + y // 7) % 2 == 0] *= 0.4
    noisy = base + rng.normal(0, 18, base.shape)
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def preprocess_payload() -> dict[str, Any]:
    """Sources (packed ARGB) and, per requested size, the centre crop Python computes from them."""
    sources, cases = [], []
    for index, (width, height, sizes) in enumerate(SOURCES):
        photo = synthetic_photo(width, height, seed=index)
        sources.append({"width": width, "height": height, "argb": to_argb(photo)})
        for size in sizes:
            crop = np.asarray(center_crop_square(Image.fromarray(photo, "RGB"), size))
            case: dict[str, Any] = {"source": index, "size": size, "crop_argb": to_argb(crop)}
            if size == min(sizes):  # the float tensor once per source: NHWC, 0..255
                case["tensor_nhwc"] = crop.astype(np.float32).ravel().tolist()
            cases.append(case)
    return {
        "filter": "PIL LANCZOS on the short side, then the centre square (mobilestyle.images.center_crop_square)",
        "sources": sources,
        "cases": cases,
    }


def postprocess_case() -> dict[str, Any]:
    """Model outputs (NHWC floats, some out of range, some exact .5 ties) -> the pixels Python shows."""
    rng = np.random.default_rng(7)
    height, width = 12, 8
    values = rng.uniform(-20, 275, (height, width, 3)).astype(np.float32)
    values.ravel()[::7] = np.floor(values.ravel()[::7]) + np.float32(0.5)  # ties: round half to even
    pixels = np.asarray(tensor_to_image(torch.from_numpy(values).permute(2, 0, 1)))
    return {"height": height, "width": width, "tensor_nhwc": values.ravel().tolist(), "argb": to_argb(pixels)}


def blend_case() -> dict[str, Any]:
    content, stylized = synthetic_photo(16, 12, seed=3), synthetic_photo(16, 12, seed=4)[::-1].copy()
    cases = [{"strength": s, "argb": to_argb(blend(content, stylized, s))} for s in (0.0, 0.25, 0.5, 0.8, 1.0)]
    return {"width": 16, "height": 12, "content_argb": to_argb(content), "stylized_argb": to_argb(stylized), "cases": cases}


def _nchw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None]


class _Fixed(nn.Module):
    """A stand-in net that returns a given output whatever its input."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.output


def colors_case() -> dict[str, Any]:
    """Keep the photo's colours (PreserveColors) on a model output with values out of range (the clamp bites)."""
    height, width = 12, 16
    photo = synthetic_photo(width, height, seed=5)
    stylized = np.random.default_rng(8).uniform(-20, 275, (height, width, 3)).astype(np.float32)
    with torch.no_grad():
        kept = PreserveColors(_Fixed(_nchw(stylized)))(_nchw(photo))[0].permute(1, 2, 0).numpy()
    return {
        "height": height,
        "width": width,
        "photo_argb": to_argb(photo),
        "stylized_nhwc": stylized.ravel().tolist(),
        "kept_nhwc": kept.ravel().tolist(),
    }


def detail_case() -> dict[str, Any]:
    """Keep the photo's fine detail (KeepDetail, sigma 1 px) on a model output with values out of range (the clamp
    bites), on a non-square picture whose short side is barely two kernels wide (the border normalisation), at two
    amounts; and composed with PreserveColors as the CLI composes them (detail inside: first detail, then colours)."""
    height, width = 11, 18
    photo = synthetic_photo(width, height, seed=6)
    stylized = np.random.default_rng(9).uniform(-20, 275, (height, width, 3)).astype(np.float32)
    kernel = gaussian_kernel(DEFAULT_SIGMA)
    cases = []
    with torch.no_grad():
        detail = luma_detail(_nchw(photo), kernel)[0, 0].numpy()
        for amount in (0.5, 1.5):
            kept = KeepDetail(_Fixed(_nchw(stylized)), amount)(_nchw(photo))[0].permute(1, 2, 0).numpy()
            both = PreserveColors(KeepDetail(_Fixed(_nchw(stylized)), amount))(_nchw(photo))[0].permute(1, 2, 0).numpy()
            cases.append({"amount": amount, "kept_nhwc": kept.ravel().tolist(), "with_colors_nhwc": both.ravel().tolist()})
    return {
        "height": height,
        "width": width,
        "sigma": DEFAULT_SIGMA,
        "kernel": kernel.tolist(),
        "photo_argb": to_argb(photo),
        "stylized_nhwc": stylized.ravel().tolist(),
        "detail": detail.ravel().tolist(),
        "cases": cases,
    }


# (height, width, tile, margin, feather): several cores per axis, overlaps wider than the feather, shifted last cores.
TILE_CASES = ((40, 56, 24, 4, 8), (36, 44, 32, 8, 4), (24, 60, 24, 4, 8))


def tiles_payload() -> dict[str, Any]:
    """Python's seam blending (mobilestyle.controls.tiles): each tile's output is its index, blended with the
    feathered weights of stylize_tiled, so every value shows which tiles meet there and how much of each."""
    cases = []
    for height, width, tile, margin, feather in TILE_CASES:
        out = np.zeros((height, width), np.float32)
        total = np.zeros((height, width), np.float32)
        for index, (y, h, wy, x, w, wx) in enumerate(_tiles(height, width, tile - 2 * margin, feather)):
            weight = wy[:, None] * wx[None, :]
            out[y : y + h, x : x + w] += weight * np.float32(index)
            total[y : y + h, x : x + w] += weight
        case = {"height": height, "width": width, "tile": tile, "margin": margin, "feather": feather}
        cases.append(case | {"tile_index_blend": (out / total).ravel().tolist()})
    return {"cases": cases}


def mixes_payload() -> dict[str, Any]:
    """A manifest's style entries with mix ladders (mobilestyle.mix_ladders) and the answers the demos must give:
    the pickable styles, each one's partners and every ladder. Covers both orders of a pair, uneven shares, a
    pair with one mix only and a mix whose partner is not bundled (ignored)."""
    styles: list[dict[str, Any]] = [{"name": n} for n in ("candy", "mosaic", "starry_night", "wave")]
    mixes = [("candy", "mosaic", w) for w in (0.25, 0.5, 0.75)]
    mixes += [("starry_night", "candy", 0.3), ("starry_night", "candy", 0.6), ("wave", "starry_night", 0.5)]
    mixes += [("mosaic", "gone", 0.5)]
    styles += [{"name": mix_name(a, b, w), "mix": mix_record(a, b, w)} for a, b, w in mixes]
    names = pickable(styles)
    return {
        "styles": styles,
        "pickable": names,
        "partners": {name: partners(styles, name) for name in names},
        "ladders": [
            {"primary": p, "partner": q, "points": [{"share": share, "style": style} for share, style in ladder(styles, p, q)]}
            for p in names
            for q in partners(styles, p)
        ],
    }


def write_fixtures(folder: Path) -> list[Path]:
    """Write the FIXTURE_FILES into ``folder`` (deterministic bytes)."""
    ensure_writable_dir(folder)
    payloads = {
        "preprocess.json": preprocess_payload(),
        "postprocess.json": postprocess_case(),
        "blend.json": blend_case(),
        "colors.json": colors_case(),
        "detail.json": detail_case(),
        "tiles.json": tiles_payload(),
        "mixes.json": mixes_payload(),
    }
    written = []
    for name in FIXTURE_FILES:
        path = folder / name
        atomic_write_text(path, json.dumps(payloads[name], separators=(",", ":")) + "\n")
        written.append(path)
    return written
