"""Google Magenta's arbitrary-style TFLite models (the TensorFlow Lite example app): a peer to compare with.

style_predict (MobileNet, 256x256 style) -> 100-value bottleneck; style_transfer (int8 or fp16, 384x384
content) + bottleneck -> stylized image. Both take float32 NHWC in 0..1; the output is a sigmoid in 0..1.
The files are not shipped: they come from a peers folder (--peers / --magenta-peers, or $MOBILESTYLE_PEERS).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from mobilestyle.errors import MobilestyleError
from mobilestyle.export.tflite_format import tflite_interpreter
from mobilestyle.images import center_crop_square

PEERS_ENV = "MOBILESTYLE_PEERS"
SHARED_ENV = "MOBILESTYLE_SHARED"
PREDICT_FILE = "style_predict_quantized_256.tflite"
TRANSFER_FILES = {"int8": "style_transfer_quantized_384.tflite", "fp16": "style_transfer_f16_384.tflite"}
Variant = Literal["int8", "fp16"]


def find_magenta_dir(peers: str | Path | None = None) -> Path:
    """The folder holding the Magenta files: ``peers`` (or $MOBILESTYLE_PEERS, or $MOBILESTYLE_SHARED/peers),
    either the magenta folder itself or a peers folder with a ``magenta/`` inside."""
    sources = [("--peers", peers), (PEERS_ENV, os.environ.get(PEERS_ENV))]
    if os.environ.get(SHARED_ENV):
        sources.append((SHARED_ENV, Path(os.environ[SHARED_ENV]) / "peers"))
    for source, value in sources:
        if not value:
            continue
        base = Path(value).expanduser()
        for folder in (base, base / "magenta"):
            if (folder / PREDICT_FILE).is_file():
                return folder
        raise MobilestyleError(f"no Magenta models ({PREDICT_FILE}) in {base} or {base / 'magenta'} (from {source})")
    raise MobilestyleError(f"no Magenta peers folder given (option or ${PEERS_ENV})")


def _input_side(interpreter: object, index: int = 0) -> int:
    shape = interpreter.get_input_details()[index]["shape"]  # type: ignore[attr-defined]
    return int(shape[1])


class MagentaStylizer:
    """Run Magenta's two TFLite models with the project's LiteRT interpreter helper."""

    def __init__(self, folder: str | Path, variant: Variant = "int8", threads: int | None = None) -> None:
        if variant not in TRANSFER_FILES:
            raise MobilestyleError(f"unknown Magenta variant {variant!r}: use {' or '.join(TRANSFER_FILES)}")
        folder = Path(folder)
        transfer_path = folder / TRANSFER_FILES[variant]
        for path in (folder / PREDICT_FILE, transfer_path):
            if not path.is_file():
                raise MobilestyleError(f"Magenta model missing: {path}")
        self.variant = variant
        self.predict = tflite_interpreter(folder / PREDICT_FILE, threads)
        self.transfer = tflite_interpreter(transfer_path, threads)
        self.style_side = _input_side(self.predict)
        self.content_side = _input_side(self.transfer)
        inputs = self.transfer.get_input_details()
        self.content_index = next(d["index"] for d in inputs if len(d["shape"]) == 4 and d["shape"][-1] == 3)
        self.bottleneck_index = next(d["index"] for d in inputs if d["index"] != self.content_index)

    @staticmethod
    def _nhwc01(image: Image.Image, side: int) -> np.ndarray:
        return (np.asarray(center_crop_square(image, side), dtype=np.float32) / 255.0)[None]

    def style_bottleneck(self, style: Image.Image) -> np.ndarray:
        """Style image (centre square at 256) -> the 1x1x1x100 style vector."""
        self.predict.set_tensor(self.predict.get_input_details()[0]["index"], self._nhwc01(style, self.style_side))
        self.predict.invoke()
        return self.predict.get_tensor(self.predict.get_output_details()[0]["index"]).copy()

    def stylize(self, content: Image.Image, bottleneck: np.ndarray) -> np.ndarray:
        """Content (centre square, resized to 384) -> 384x384x3 float32 RGB in 0..255."""
        self.transfer.set_tensor(self.content_index, self._nhwc01(content, self.content_side))
        self.transfer.set_tensor(self.bottleneck_index, bottleneck.astype(np.float32))
        self.transfer.invoke()
        out = self.transfer.get_tensor(self.transfer.get_output_details()[0]["index"])[0]
        return np.clip(out * 255.0, 0.0, 255.0).astype(np.float32)

    def stylize_image(self, content: Image.Image, bottleneck: np.ndarray) -> Image.Image:
        """Content square -> Magenta's 8-bit RGB output, resized back to the content's size (how it is scored)."""
        picture = Image.fromarray(self.stylize(content, bottleneck).round().astype("uint8"))
        return picture.resize(content.size, Image.Resampling.LANCZOS)


def optional_magenta(peers: str | Path | None, variant: Variant = "int8") -> tuple[MagentaStylizer | None, str | None]:
    """Magenta when its models are found, else (None, why). A ``peers`` folder given explicitly must hold them;
    a stylizer that cannot be built (e.g. ai-edge-litert not installed) is always a skip."""
    try:
        folder = find_magenta_dir(peers)
    except MobilestyleError as exc:
        if peers is not None:
            raise
        return None, str(exc)
    try:
        return MagentaStylizer(folder, variant), None
    except MobilestyleError as exc:
        return None, str(exc)
