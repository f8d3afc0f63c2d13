"""The formats `mobilestyle export` writes, by name: adding a format is one new ``*_format.py`` and one line here.

Everything that meets an exported file by its path (stylize, bundle, bench, read_metadata) finds its format here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mobilestyle.errors import MobilestyleError
from mobilestyle.export import coreml_format, onnx_format, tflite_format
from mobilestyle.export.model_format import ModelFormat
from mobilestyle.runners import Runner

FORMATS: dict[str, ModelFormat] = {f.name: f for f in (onnx_format.FORMAT, tflite_format.FORMAT, coreml_format.FORMAT)}
FORMAT_NAMES = tuple(FORMATS)
RUNNABLE_SUFFIXES = tuple(f.suffix for f in FORMATS.values() if f.runs_here)


def formats(names: Sequence[str]) -> list[ModelFormat]:
    """The format objects for ``names`` (refused when unknown or empty)."""
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise MobilestyleError(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)} or all")
    return [FORMATS[n] for n in names]


def format_of(path: Path) -> ModelFormat | None:
    """The format whose suffix ``path`` has (None when none has)."""
    suffix = path.suffix.lower()
    return next((f for f in FORMATS.values() if suffix in (f.suffix, *f.other_suffixes)), None)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The mobilestyle metadata of an exported file (.onnx, .tflite, .mlpackage)."""
    path = Path(path)
    if not path.exists():
        raise MobilestyleError(f"{path}: no such file")
    fmt = format_of(path)
    if fmt is None:
        raise MobilestyleError(f"{path}: unknown model type {path.suffix.lower() or '(no suffix)'}")
    text = fmt.read_metadata_text(path)
    if text is None:
        raise MobilestyleError(f"{path}: no mobilestyle metadata in this file")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise MobilestyleError(f"{path}: its mobilestyle metadata is not valid JSON") from None


def check_own_model(path: Path, fmt: ModelFormat) -> dict[str, Any]:
    """The file's mobilestyle metadata; a foreign model (Magenta's, any other) or an unreadable one is refused.

    Running a model blindly is how a foreign file "works" and writes an all-black picture: its inputs are not ours.
    """
    try:
        metadata = read_metadata(path)
    except MobilestyleError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise MobilestyleError(f"{path}: not a model made by mobilestyle export ({reason}); foreign models are not run") from None
    if metadata.get("layout") != fmt.layout or metadata.get("value_range") != [0, 255]:
        raise MobilestyleError(
            f"{path}: its metadata says layout {metadata.get('layout')!r}, range {metadata.get('value_range')}; "
            f"expected {fmt.layout} on 0..255"
        )
    return metadata


def open_model(path: str | Path, threads: int | None = None, foreign_ok: bool = False) -> Runner:
    """Open an exported model by its suffix (.onnx or .tflite; CoreML needs macOS to predict).

    Only files with mobilestyle's metadata are opened unless ``foreign_ok`` (the bench times files as they are).
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt is not None and not fmt.runs_here:
        return fmt.open_runner(path, threads)  # raises, saying where it runs
    if not path.exists():
        raise MobilestyleError(f"{path}: no such file")
    if path.is_dir():
        raise MobilestyleError(f"{path}: is a folder, not a model file")
    if fmt is None:
        expected = " or ".join(RUNNABLE_SUFFIXES)
        raise MobilestyleError(f"{path}: unknown model type {path.suffix.lower() or '(no suffix)'}; expected {expected}")
    if not foreign_ok:
        check_own_model(path, fmt)
    return fmt.open_runner(path, threads)
