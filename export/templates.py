"""Converted-graph templates: convert once per (format, graph version, architecture, sizes, precision,
backend versions), keep the result in memory and on disk, and give each new style a byte patch of it.

Disk cache: $MOBILESTYLE_CACHE, else ~/.cache/mobilestyle/graphs (one .npz per key, written atomically;
delete the folder to reclaim space, the next export rebuilds what it needs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilestyle.atomic import atomic_path
from mobilestyle.export.layout import (
    Layout,
    LayoutError,
    Region,
    Slot,
    flat_weights,
    graph_tensors,
    indexed_copy,
    locate,
    locate_like,
    seeded_copy,
)
from mobilestyle.export.metadata import patch_metadata
from mobilestyle.vgg import cache_dir as user_cache_dir

CACHE_ENV = "MOBILESTYLE_CACHE"
TEMPLATE_FORMAT_VERSION = 2
log = logging.getLogger(__name__)

Convert = Callable[[nn.Module], dict[str, bytes]]
FindRegions = Callable[[dict[str, bytes], int], list[Region]]


def cache_dir() -> Path:
    """$MOBILESTYLE_CACHE, else the graphs/ folder of the user cache (beside the VGG weights)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else user_cache_dir() / "graphs"


@dataclass
class Template:
    files: dict[str, bytes]
    layout: Layout

    def render(self, flat: np.ndarray, metadata: dict | None) -> dict[str, bytes]:
        files = self.layout.patch(self.files, flat)
        return patch_metadata(files, metadata) if metadata is not None else files


def template_key(fmt: str, graph: nn.Module, graph_version: int, options: dict, versions: dict[str, str]) -> str:
    description = {
        "template_format": TEMPLATE_FORMAT_VERSION,
        "format": fmt,
        "graph_version": graph_version,
        "graph_class": f"{type(graph).__module__}.{type(graph).__qualname__}",
        "graph_config": repr(getattr(graph, "config", None)),
        "graph_constants": getattr(graph, "export_metadata", None),  # a control wrapper's settings (e.g. keep_detail)
        "static_shapes": getattr(graph, "static_shapes", None),
        "tensors": [[name, list(t.shape)] for name, t in graph_tensors(graph)],
        "options": options,
        "versions": {**versions, "torch": torch.__version__},
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]


def build_template(graph: nn.Module, convert: Convert, find_regions: FindRegions, convert_fp32: Convert | None = None) -> Template:
    """Convert an index-valued copy of ``graph`` and map every weight into the converted files.

    With ``convert_fp32`` the files store fp16 weights, whose range cannot hold the indices: the
    mapping is learnt on an fp32 conversion, then found again (by the bytes each weight region must
    hold) in an fp16 conversion of seeded weights, which becomes the template.
    """
    sizes = [t.numel() for _, t in graph_tensors(graph)]
    indexed = indexed_copy(graph)
    if convert_fp32 is None:
        files = convert(indexed)
        return Template(files, locate(find_regions(files, sum(sizes)), sizes))
    files32 = convert_fp32(indexed)
    layout32 = locate(find_regions(files32, sum(sizes)), sizes)
    seeded = seeded_copy(graph)
    files16 = convert(seeded)
    return Template(files16, locate_like(layout32, files16, flat_weights(seeded), "<f2"))


def _save(path: Path, template: Template) -> None:
    arrays: dict[str, np.ndarray] = {}
    names = list(template.files)
    for i, name in enumerate(names):
        arrays[f"file{i}"] = np.frombuffer(template.files[name], dtype=np.uint8)
    slots = []
    for i, slot in enumerate(template.layout.slots):
        arrays[f"index{i}"] = slot.index.astype(np.int32)
        slots.append({"file": slot.file, "offset": slot.offset, "dtype": slot.dtype, "scale": slot.scale, "shift": slot.shift})
    meta = {"files": names, "slots": slots, "n_values": template.layout.n_values, "notes": template.layout.notes}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub mistakes **arrays for its keywords


def _load(path: Path) -> Template | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes())
            files = {name: data[f"file{i}"].tobytes() for i, name in enumerate(meta["files"])}
            slots = [
                Slot(s["file"], s["offset"], s["dtype"], data[f"index{i}"].astype(np.int64), s["scale"], s["shift"])
                for i, s in enumerate(meta["slots"])
            ]
        return Template(files, Layout(slots, meta["n_values"], meta["notes"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable template cache %s (%s)", path, exc)
        return None


class TemplateCache:
    """Templates by key, in memory and on disk; a key whose graph cannot be mapped is remembered as None."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.memory: dict[str, Template | None] = {}

    def get(self, key: str, build: Callable[[], Template], what: str = "") -> Template | None:
        """The template under ``key``; built (and saved) when neither memory nor disk has it.

        ``what`` names the conversion in the one-line notice a person at a terminal sees while it is built.
        """
        if key in self.memory:
            return self.memory[key]
        directory = self.directory or cache_dir()
        path = directory / f"{key}.npz"
        template = _load(path) if path.is_file() else None
        if template is None:
            announce_build(what or key, directory)
            try:
                template = build()
            except LayoutError as exc:
                log.warning("weight patching unavailable for this graph (%s); converting each style afresh", exc)
                self.memory[key] = None
                return None
            try:
                _save(path, template)
            except Exception as exc:  # an unwritable cache only costs speed
                log.warning("cannot write template cache %s (%s)", path, exc)
        self.memory[key] = template
        return template


def announce_build(what: str, directory: Path) -> None:
    """Tell a person at a terminal why the first export of a kind takes half a minute (scripts see nothing)."""
    if sys.stderr.isatty():
        print(f"converting the {what} graph once (about 30 s); cached in {directory} for every later style", file=sys.stderr)


DEFAULT_CACHE = TemplateCache()
