"""Bundle exported style models into the Android demo app (assets/styles/) and the browser demo (models/).

Every model is validated before it is copied: its metadata must match the file (format, layout, value
range, sizes, the export record when we exported it here), and it must load and run on a probe image
in the Python runtime. Files land under their folder through mobilestyle.atomic; manifest.json is
written last, so the app never sees a manifest that names a missing file.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mobilestyle import __version__
from mobilestyle.atomic import atomic_path, atomic_write_text, ensure_writable_dir, scratch_dir, sha256_file
from mobilestyle.controls.mixing import DEFAULT_SPACE, mix_nets
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMATS, export, open_model, read_metadata
from mobilestyle.export.model_format import ModelFormat, signature_name
from mobilestyle.export.norm_stats import ROLE as TILES_ROLE
from mobilestyle.export.norm_stats import (
    STATS_INPUT,
    STATS_OUTPUT,
    TILES_FORMATS,
    USE_INPUT,
    NormStatsRunner,
    export_tiles,
    tiles_file_name,
)
from mobilestyle.export.registry import format_of
from mobilestyle.images import center_crop_square, load_image
from mobilestyle.mix_ladders import MIX_FIELD, mix_name, mix_pairs, mix_record, mix_weights
from mobilestyle.style_encoder import StyleNets
from mobilestyle.transformer import TransformNet

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = 1
APP_ASSETS = Path("app", "src", "main", "assets", "styles")
APP_MANIFEST = Path("app", "src", "main", "AndroidManifest.xml")
WEB_MODELS = "models"
DEMO_FORMATS = ("tflite", "onnx")  # the Android app runs TFLite, the web demo ONNX and TFLite
MODEL_SUFFIXES = tuple(FORMATS[f].suffix for f in DEMO_FORMATS)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
THUMBNAIL_SIDE = 128
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A bundled model's output on the probe image must stay inside 0..255 (plus float slack).
RANGE_SLACK = 0.5


def slug(text: str) -> str:
    """A file-system-safe style name derived from a file stem or a metadata style name."""
    name = re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")[:63]
    if not name or not SAFE_NAME.match(name):
        raise MobilestyleError(f"cannot derive a style name from {text!r}; pass --name")
    return name


def check_name(name: str) -> str:
    """A user-given style name: refused unless it is a plain lowercase file name (no paths, no dots)."""
    if not SAFE_NAME.match(name):
        raise MobilestyleError(f"style name {name!r} refused: use 1-63 characters a-z 0-9 _ - (no paths, no dots)")
    return name


def inside(folder: Path, file_name: str) -> Path:
    """``folder/file_name``, refused when the name is a path or resolves outside ``folder``."""
    if not file_name or file_name in (".", "..") or "/" in file_name or "\\" in file_name or "\0" in file_name:
        raise MobilestyleError(f"file name {file_name!r} refused: it would leave {folder}")
    target = folder / file_name
    base = folder.resolve()
    resolved = target.resolve()
    if resolved.parent != base:
        raise MobilestyleError(f"file name {file_name!r} refused: it resolves to {resolved}, outside {base}")
    return target


def app_assets_dir(app: Path) -> Path:
    """The demo app's style folder; ``app`` must be the android_demo project."""
    if not (app / APP_MANIFEST).is_file():
        raise MobilestyleError(f"{app} is not the demo app: {APP_MANIFEST} is missing (pass --app android_demo)")
    return ensure_writable_dir(app / APP_ASSETS)


def probe_image(size: int) -> np.ndarray:
    """A fixed, photo-like HxWx3 float32 test picture (gradients, edges, texture) on 0..255."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    red = 255 * x
    green = 255 * (0.5 + 0.5 * np.sin(6 * np.pi * y) * np.cos(4 * np.pi * x))
    blue = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.09, 230.0, 40.0 + 120 * y)
    return np.stack([red, green, blue], axis=-1).astype(np.float32)


@dataclass
class ValidatedModel:
    """A model file whose metadata, signatures and output were checked."""

    path: Path
    format: str
    metadata: dict[str, Any]
    probe_size: int
    probe_output: np.ndarray
    run_seconds: float
    size_bytes: int

    def manifest_entry(self, file_name: str) -> dict[str, Any]:
        metadata = self.metadata
        sizes = metadata["sizes"]
        entry: dict[str, Any] = {
            "file": file_name,
            "format": self.format,
            "bytes": self.path.stat().st_size,
            "sha256": sha256_file(self.path),
            "sizes": sizes,
            "layout": metadata["layout"],
            "value_range": list(metadata["value_range"]),
            "precision": metadata["precision"],
            "input_name": metadata.get("input_name"),
            "output_name": metadata.get("output_name"),
        }
        if FORMATS[self.format].static_shapes and isinstance(sizes, list):
            entry["signatures"] = {f"{h}x{w}": signature_name(h, w) for h, w in sizes}
        if metadata.get("role") == TILES_ROLE:  # a norm-statistics file: its two more inputs and second output
            entry.update(
                norm_stats_length=int(metadata["norm_stats_length"]),
                norm_stats_input=STATS_INPUT,
                use_given_input=USE_INPUT,
                norm_stats_output=STATS_OUTPUT,
            )
        return entry


def _read_metadata(path: Path) -> dict[str, Any]:
    metadata = read_metadata(path)
    if not metadata:
        raise MobilestyleError(f"{path}: no mobilestyle metadata; bundle only files written by `mobilestyle export`")
    return dict(metadata)


def _check_metadata(path: Path, fmt: ModelFormat, metadata: dict[str, Any]) -> None:
    missing = [key for key in ("format", "sizes", "layout", "value_range", "precision") if key not in metadata]
    if missing:
        raise MobilestyleError(f"{path}: metadata lacks {', '.join(missing)}")
    if metadata["format"] != fmt.name:
        raise MobilestyleError(f"{path}: metadata says format {metadata['format']!r} but the file is {fmt.name}")
    if metadata["layout"] != fmt.layout:
        raise MobilestyleError(f"{path}: layout {metadata['layout']!r}, the demo needs {fmt.layout} for {fmt.name}")
    if [float(v) for v in metadata["value_range"]] != [0.0, 255.0]:
        raise MobilestyleError(f"{path}: value range {metadata['value_range']}, the demo feeds 0..255")
    sizes = metadata["sizes"]
    if fmt.static_shapes and not (isinstance(sizes, list) and sizes):
        raise MobilestyleError(f"{path}: a {fmt.name} model must list its static sizes in its metadata")


def _runner_sizes(runner: Any) -> list[list[int]] | None:
    sizes = getattr(runner, "sizes", None)
    return [list(map(int, s)) for s in sizes] if sizes is not None else None


def _checked_file(path: Path, formats: Sequence[str], refusal: str) -> tuple[ModelFormat, dict[str, Any]]:
    """The file's format (one of ``formats``, else ``refusal``), self-contained, with metadata that matches it."""
    fmt = format_of(path)
    if fmt is None or fmt.name not in formats:
        raise MobilestyleError(f"{path}: {refusal}")
    fmt.check_self_contained(path)
    metadata = _read_metadata(path)
    _check_metadata(path, fmt, metadata)
    return fmt, metadata


def validate_model(path: Path, size: int) -> ValidatedModel:
    """Check the metadata against the file and run it once on the probe image (at ``size`` when dynamic)."""
    fmt, metadata = _checked_file(path, DEMO_FORMATS, f"not a model the demo runs ({' or '.join(MODEL_SUFFIXES)})")
    runner = open_model(path, threads=1)
    if fmt.static_shapes:
        declared = sorted([list(map(int, s)) for s in metadata["sizes"]])
        actual = _runner_sizes(runner)
        if actual is not None and sorted(actual) != declared:
            raise MobilestyleError(f"{path}: metadata lists sizes {declared} but the file serves {sorted(actual)}")
        square = [h for h, w in declared if h == w]
        probe_size = size if [size, size] in declared else (square[0] if square else declared[0][0])
        if not square:
            raise MobilestyleError(f"{path}: the demo runs square inputs; the file serves {declared}")
    else:
        probe_size = size
    started = time.perf_counter()
    output = runner.run(probe_image(probe_size))
    seconds = time.perf_counter() - started
    _check_probe_output(path, output, probe_size)
    return ValidatedModel(path, fmt.name, metadata, probe_size, output, seconds, path.stat().st_size)


def _check_probe_output(path: Path, output: np.ndarray, probe_size: int) -> None:
    if output.shape != (probe_size, probe_size, 3):
        raise MobilestyleError(f"{path}: output shape {output.shape} for a {probe_size}x{probe_size} input")
    if not np.isfinite(output).all():
        raise MobilestyleError(f"{path}: the model outputs NaN or infinite values")
    low, high = float(output.min()), float(output.max())
    if low < -RANGE_SLACK or high > 255 + RANGE_SLACK:
        raise MobilestyleError(f"{path}: output spans {low:.1f}..{high:.1f}, outside the 0..255 value range")


def validate_tiles_model(path: Path, size: int) -> ValidatedModel:
    """A norm-statistics file (export/norm_stats.py): its metadata, then both passes on the probe image (its own
    statistics, then the probe turned upside down normalised with them)."""
    fmt, metadata = _checked_file(path, TILES_FORMATS, f"not a norm-statistics file the demos run ({', '.join(TILES_FORMATS)})")
    if metadata.get("role") != TILES_ROLE or int(metadata.get("norm_stats_length", 0)) <= 0:
        raise MobilestyleError(f"{path}: not a norm-statistics file (metadata role {metadata.get('role')!r})")
    runner = NormStatsRunner(path, threads=1)
    probe_size = runner.side or size
    probe = probe_image(probe_size)
    started = time.perf_counter()
    stats = runner.statistics(probe)
    output = runner.run(np.ascontiguousarray(probe[::-1]), stats)
    seconds = time.perf_counter() - started
    if stats.shape != (1, int(metadata["norm_stats_length"])) or not np.isfinite(stats).all():
        raise MobilestyleError(f"{path}: its statistics output has shape {stats.shape}, or NaN / infinite values")
    _check_probe_output(path, output, probe_size)
    return ValidatedModel(path, fmt.name, metadata, probe_size, output, seconds, path.stat().st_size)


def check_export_record(model: ValidatedModel, record: Any) -> None:
    """A freshly exported file must match what the exporter reported about it."""
    path = model.path
    if not getattr(record, "verified", False):
        raise MobilestyleError(f"{path}: export was not verified ({getattr(record, 'verification', '?')})")
    if int(record.bytes) != path.stat().st_size:
        raise MobilestyleError(f"{path}: {path.stat().st_size} bytes on disk, the export record says {record.bytes}")
    if record.format != model.format or record.precision != model.metadata["precision"]:
        raise MobilestyleError(f"{path}: export record ({record.format}, {record.precision}) does not match its metadata")
    if record.sizes != model.metadata["sizes"]:
        raise MobilestyleError(f"{path}: export record sizes {record.sizes} differ from its metadata {model.metadata['sizes']}")
    recorded_sha = getattr(record, "style_sha256", None)
    if recorded_sha and model.metadata.get("style_sha256") and recorded_sha != model.metadata["style_sha256"]:
        raise MobilestyleError(f"{path}: style hash in the export record differs from the file's metadata")


@dataclass
class StyleBundle:
    """One style: its models (by format), where its thumbnail comes from, and the checks' results."""

    name: str
    models: dict[str, ValidatedModel] = field(default_factory=dict)
    style_image: Path | None = None
    style_sha256: str | None = None
    format_max_abs_diff: float | None = None
    exported: bool = False
    mix: dict[str, Any] | None = None  # mobilestyle.mix_ladders: {"styles": [a, b], "weight": b's share}
    tiles: dict[str, ValidatedModel] = field(default_factory=dict)  # norm-statistics files by format (bundle --tiles)

    def add(self, model: ValidatedModel) -> None:
        if model.format in self.models:
            raise MobilestyleError(f"two {model.format} models for style {self.name!r}: {self.models[model.format].path} and {model.path}")
        self.models[model.format] = model
        self.style_sha256 = self.style_sha256 or model.metadata.get("style_sha256")

    def compare_formats(self) -> None:
        """Same style, same probe: how far apart the ONNX (web) and TFLite (app) outputs are."""
        onnx, tflite = self.models.get("onnx"), self.models.get("tflite")
        if onnx and tflite and onnx.probe_size == tflite.probe_size:
            self.format_max_abs_diff = float(np.abs(onnx.probe_output - tflite.probe_output).max())

    def thumbnail(self) -> Image.Image:
        if self.style_image is not None:
            return center_crop_square(load_image(self.style_image), THUMBNAIL_SIDE)
        model = next(iter(self.models.values()))
        picture = Image.fromarray(np.clip(model.probe_output, 0, 255).round().astype(np.uint8), "RGB")
        return picture.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)


def read_manifest(folder: Path, ignore_unreadable: bool = False) -> dict[str, Any]:
    """The manifest already in ``folder`` (empty when none); every file it names must stay inside the folder."""
    path = folder / MANIFEST
    empty: dict[str, Any] = {"schema": MANIFEST_SCHEMA, "styles": []}
    if not path.is_file():
        return empty
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for style in manifest["styles"]:
            check_name(style["name"])
            for name in manifest_files(style):
                inside(folder, name)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if ignore_unreadable:
            return empty
        raise MobilestyleError(f"{path}: unreadable manifest ({exc}); delete it or pass --clean") from None
    return manifest


def manifest_files(style: dict[str, Any]) -> list[str]:
    models = [*style.get("models", []), *style.get("tiles", [])]
    return [model["file"] for model in models] + ([style["thumbnail"]] if style.get("thumbnail") else [])


@dataclass
class Destination:
    """A folder that receives models of some formats and a manifest.json describing them."""

    label: str
    folder: Path
    formats: tuple[str, ...]
    clean: bool = False
    written: list[dict[str, Any]] = field(default_factory=list)
    previous: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read (and check) the manifest already there before anything is copied: a manifest naming files
        # outside the folder is refused up front, even with --clean, which deletes what it names.
        self.previous = read_manifest(self.folder, ignore_unreadable=self.clean)

    def install(self, style: StyleBundle) -> dict[str, Any] | None:
        models = [style.models[f] for f in self.formats if f in style.models]
        if not models:
            return None
        entry: dict[str, Any] = {"name": style.name, "style_sha256": style.style_sha256, "models": []}
        for model in models:
            file_name = f"{style.name}.{model.format}"
            _copy_into(model.path, inside(self.folder, file_name))
            entry["models"].append(model.manifest_entry(file_name))
        tiles = [style.tiles[f] for f in self.formats if f in style.tiles]
        for model in tiles:
            file_name = tiles_file_name(style.name, model.format)
            _copy_into(model.path, inside(self.folder, file_name))
            entry.setdefault("tiles", []).append(model.manifest_entry(file_name))
        thumb_name = f"{style.name}.thumb.jpg"
        with atomic_path(inside(self.folder, thumb_name)) as tmp, open(tmp, "wb") as handle:
            style.thumbnail().save(handle, format="JPEG", quality=90)
        entry["thumbnail"] = thumb_name
        if style.mix is not None:
            entry[MIX_FIELD] = style.mix
        self.written.append(entry)
        return entry

    def write_manifest(self) -> Path:
        new_names = {entry["name"] for entry in self.written}
        kept = [] if self.clean else [s for s in self.previous.get("styles", []) if not _replaced(s, new_names)]
        styles = sorted(kept + self.written, key=lambda s: s["name"])
        manifest = {"schema": MANIFEST_SCHEMA, "generator": f"mobilestyle {__version__}", "styles": styles}
        path = self.folder / MANIFEST
        atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
        self._remove_unlisted(styles)
        return path

    def _remove_unlisted(self, styles: list[dict[str, Any]]) -> None:
        """Delete files the old manifest named and the new one does not: styles dropped by --clean, files of a
        replaced style it no longer has. Files no manifest of ours named are never touched."""
        previous = {name for style in self.previous.get("styles", []) for name in manifest_files(style)}
        current = {name for style in styles for name in manifest_files(style)}
        for name in previous - current:
            inside(self.folder, name).unlink(missing_ok=True)

    def total_bytes(self) -> int:
        manifest = read_manifest(self.folder)
        return (
            sum((self.folder / name).stat().st_size for style in manifest["styles"] for name in manifest_files(style))
            + (self.folder / MANIFEST).stat().st_size
        )


def _replaced(style: dict[str, Any], new_names: set[str]) -> bool:
    """A style bundled earlier that this bundle replaces: same name, or a mix of a style bundled again (stale)."""
    mixed = style.get(MIX_FIELD, {}).get("styles", []) if isinstance(style.get(MIX_FIELD), dict) else []
    return style["name"] in new_names or any(name in new_names for name in mixed)


def _copy_into(source: Path, target: Path) -> None:
    if target.exists() and target.resolve() == source.resolve():
        return
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    if sha256_file(target) != sha256_file(source):
        raise MobilestyleError(f"{target}: copy differs from {source}")


def classify_inputs(inputs: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Split command-line inputs into model files and style images."""
    models, images = [], []
    for path in inputs:
        if not path.exists():
            raise MobilestyleError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix in MODEL_SUFFIXES:
            models.append(path)
        elif suffix in IMAGE_SUFFIXES:
            images.append(path)
        elif suffix in (".mlpackage", ".mlmodel"):
            raise MobilestyleError(f"{path}: the demos run TFLite (Android) and ONNX (web), not CoreML")
        else:
            raise MobilestyleError(f"{path}: neither a model (.tflite, .onnx) nor a style image ({', '.join(IMAGE_SUFFIXES)})")
    return models, images


def sibling_style_image(model: Path) -> Path | None:
    """A style image saved next to a model under the same stem (candy.tflite + candy.jpg) becomes its thumbnail."""
    for suffix in IMAGE_SUFFIXES:
        candidate = model.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def group_models(paths: Sequence[Path], size: int, name: str | None) -> dict[str, StyleBundle]:
    """Validate model files and group them by style name (metadata style_name, else the file stem)."""
    styles: dict[str, StyleBundle] = {}
    for path in paths:
        model = validate_model(path, size)
        style_name = name or slug(str(model.metadata.get("style_name") or path.stem))
        style = styles.setdefault(style_name, StyleBundle(style_name))
        style.add(model)
        style.style_image = style.style_image or sibling_style_image(path)
    return styles


def export_styles(
    images: Sequence[Path],
    *,
    formats: Sequence[str],
    size: int,
    precision: str,
    checkpoint: Path | None,
    vgg_weights: Path | None,
    scratch: Path,
    name: str | None,
    mix_steps: int = 0,
    tiles: bool = False,
    progress: Any = None,
) -> dict[str, StyleBundle]:
    """Style images -> nets (the meta network) -> exported (mobilestyle.export.export), validated models; with
    ``mix_steps`` N >= 2 also the N - 1 hidden-space mixes between every pair of them (mobilestyle.mix_ladders);
    with ``tiles`` each style's norm-statistics files too (export/norm_stats.py)."""
    style_nets = StyleNets.load(checkpoint, vgg_weights)
    statistics: dict[str, torch.Tensor] = {}
    styles: dict[str, StyleBundle] = {}

    def add(style: StyleBundle, net: TransformNet, metadata: dict[str, Any]) -> None:
        extra = {**style_nets.provenance(), **metadata}
        records = export(
            net,
            formats=formats,
            sizes=[size],
            precision=precision,
            out_dir=scratch / style.name,
            name=style.name,
            style_sha256=style.style_sha256,
            extra_metadata=extra,
        )
        for record in records:
            model = validate_model(Path(record.path), size)
            check_export_record(model, record)
            style.add(model)
        tiles_formats = [f for f in formats if f in TILES_FORMATS] if tiles else []
        for record in export_tiles(
            net, formats=tiles_formats, size=size, out_dir=scratch / style.name, name=style.name, extra_metadata=extra
        ):
            model = validate_tiles_model(Path(record.path), size)
            check_export_record(model, record)
            style.tiles[model.format] = model
        styles[style.name] = style
        if progress is not None:
            progress.update(1)

    for image in images:
        picture = load_image(image)  # a bad style image is one clear error before any export work
        style_name = name or slug(image.stem)
        if style_name in styles:
            raise MobilestyleError(f"two style images map to the name {style_name!r}; rename one")
        statistics[style_name] = style_nets.statistics(picture)
        style = StyleBundle(style_name, style_image=image, style_sha256=sha256_file(image), exported=True)
        add(style, style_nets.meta_network.emit(statistics[style_name]), {})
    for first, second in mix_pairs(list(statistics)):
        pair = torch.cat([statistics[first], statistics[second]])
        for weight in mix_weights(mix_steps):
            record = mix_record(first, second, weight)
            net = mix_nets(style_nets.meta_network, pair, [1.0 - weight, weight], DEFAULT_SPACE)
            style = StyleBundle(check_name(mix_name(first, second, weight)), exported=True, mix=record)
            add(style, net, {"mix": {**record, "space": DEFAULT_SPACE}})
    return styles


def export_count(n_images: int, mix_steps: int) -> int:
    """How many styles export_styles writes: the images, and the mixes between every pair of them."""
    return n_images + n_images * (n_images - 1) // 2 * len(mix_weights(mix_steps))


@dataclass
class BundleResult:
    styles: list[StyleBundle]
    destinations: list[Destination]

    def to_dict(self) -> dict[str, Any]:
        return {
            "styles": [
                {
                    "name": s.name,
                    "files": {
                        fmt: {
                            "source": f"exported from {s.style_image}" if s.exported else str(m.path),
                            "bytes": m.size_bytes,
                            "precision": m.metadata["precision"],
                            "probe_size": m.probe_size,
                            "probe_ms": round(m.run_seconds * 1000, 2),
                        }
                        for fmt, m in s.models.items()
                    },
                    "onnx_vs_tflite_max_abs_diff": s.format_max_abs_diff,
                    **({"mix": s.mix} if s.mix is not None else {}),
                }
                for s in self.styles
            ],
            "destinations": [
                {
                    "label": d.label,
                    "folder": str(d.folder),
                    "manifest": str(d.folder / MANIFEST),
                    "styles_written": [e["name"] for e in d.written],
                    "total_bytes": d.total_bytes(),
                }
                for d in self.destinations
            ],
        }


def install_styles(styles: Sequence[StyleBundle], destinations: Sequence[Destination]) -> BundleResult:
    """Copy every style into every destination that takes one of its formats, then write the manifests."""
    wanted = {f for d in destinations for f in d.formats}
    for style in styles:
        if not wanted & set(style.models):
            raise MobilestyleError(f"style {style.name!r} has only {sorted(style.models)} models; the destinations take {sorted(wanted)}")
    for style in styles:
        style.compare_formats()
        for dest in destinations:
            dest.install(style)
    for dest in destinations:
        dest.write_manifest()
    return BundleResult(list(styles), list(destinations))


def bundle_inputs(
    model_paths: Sequence[Path],
    style_images: Sequence[Path],
    destinations: Sequence[Destination],
    *,
    size: int,
    precision: str,
    name: str | None,
    checkpoint: Path | None,
    vgg_weights: Path | None,
    mix_steps: int = 0,
    tiles: bool = False,
    progress: Any = None,
) -> BundleResult:
    """Validate the given models, export the style images (to a scratch folder), then install everything."""
    formats = sorted({f for d in destinations for f in d.formats}, key=lambda f: f != "tflite")
    styles = group_models(model_paths, size, name)
    if name is not None and len(styles) + len(style_images) > 1:
        raise MobilestyleError("--name names one style; these inputs hold several")
    with scratch_dir("mobilestyle-bundle") as scratch:
        exported = (
            export_styles(
                style_images,
                formats=formats,
                size=size,
                precision=precision,
                checkpoint=checkpoint,
                vgg_weights=vgg_weights,
                scratch=Path(scratch),
                name=name,
                mix_steps=mix_steps,
                tiles=tiles,
                progress=progress,
            )
            if style_images
            else {}
        )
        clash = set(styles) & set(exported)
        if clash:
            raise MobilestyleError(f"style name(s) {sorted(clash)} given both as a model and as a style image")
        return install_styles([*styles.values(), *exported.values()], destinations)
