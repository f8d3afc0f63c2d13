"""Helpers shared by the service tests: styles as bytes, a started in-process service."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def picture_bytes(seed: int, side: int = 96, fmt: str = "PNG") -> bytes:
    """A distinct little style picture: smooth colour blobs (seeded)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's header)."""
    data = bytearray(picture_bytes(0, side=16))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def wait_ready(get: Callable[[str], Any], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if get("/readyz").status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError("service not ready")


def entry_folder(cache: Path, model_id: str) -> Path:
    return cache / model_id[:2] / model_id
