"""The service's work, without HTTP: an uploaded style -> a cache entry of verified model files, and previews.

``Service.model(style_bytes, options)`` hashes the upload with the options and the model version into an id, answers
from the cache when a whole entry is there, else runs one job on the bounded pool: decode the picture (size limits
and the decompression-bomb guard of images.load_image), the style's net (style_encoder.StyleNets), ``export`` into a
temporary entry folder, atomic rename (cache.ModelCache.put). Every user error becomes an ApiError with a message.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import shutil
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from mobilestyle import __version__
from mobilestyle.atomic import scratch_dir
from mobilestyle.errors import MobilestyleError
from mobilestyle.export import FORMAT_NAMES, FORMATS, check_request, export
from mobilestyle.export.graph import GRAPH_VERSION
from mobilestyle.export.model_format import PRECISIONS
from mobilestyle.export.templates import Template, TemplateCache
from mobilestyle.images import fit_short_side, load_image_bytes, prepare_style, resize_short_side
from mobilestyle.runners import TorchRunner
from mobilestyle.serve.cache import Entry, ModelCache, sha256_bytes, valid_id
from mobilestyle.serve.errors import ApiError, BadInput, NotFound, NotReady
from mobilestyle.serve.jobs import WorkPool
from mobilestyle.style_encoder import StyleNets
from mobilestyle.transformer import TransformNet

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_FORMATS = ("tflite",)
DEFAULT_SIZE = 256
DEFAULT_PRECISION = "fp16"  # as `mobilestyle export` (ONNX is always fp32)
MAX_UPLOAD_PIXELS = 25_000_000  # decoded pixels of an upload (JPEGs are decoded downscaled to it, others refused)
STYLE_FILE = "style.png"  # the style as the networks read it (prepared): enough to rebuild the entry
MAX_PREVIEW_SIDE = 1024
DEFAULT_PREVIEW_SIDE = 512
NET_CACHE = 32  # style nets kept in memory for previews (450 KB each)


@dataclass
class ServeConfig:
    cache_dir: Path
    cache_max_bytes: int = 2 << 30
    workers: int = 2
    queue: int = 8
    max_upload_bytes: int = 20 << 20
    checkpoint: Path | None = None
    vgg_weights: Path | None = None
    token: str | None = None
    warm_formats: tuple[str, ...] = ("tflite", "onnx")
    build_delay_s: float = 0.0  # fault tests only: pause between writing an entry's files (MOBILESTYLE_SERVE_BUILD_DELAY_S)
    retry_after_s: int = 2


@dataclass(frozen=True)
class ModelOptions:
    formats: tuple[str, ...]
    size: int
    precision: str

    def to_dict(self) -> dict[str, Any]:
        return {"formats": list(self.formats), "size": self.size, "precision": self.precision}


@dataclass
class BuildResult:
    entry: Entry
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)


def parse_options(formats: str | None, size: int | None, precision: str | None) -> ModelOptions:
    """Form fields -> checked options (BadInput says what is wrong)."""
    names: list[str] = []
    for item in (formats or ",".join(DEFAULT_FORMATS)).split(","):
        item = item.strip().lower()
        if item == "all":
            names += FORMAT_NAMES
        elif item in FORMAT_NAMES:
            names.append(item)
        elif item:
            raise BadInput(f"unknown format {item!r}; choose from {', '.join((*FORMAT_NAMES, 'all'))}")
    if not names:
        raise BadInput("formats is empty; choose from " + ", ".join(FORMAT_NAMES))
    precision = (precision or DEFAULT_PRECISION).strip().lower()
    if precision not in PRECISIONS:
        raise BadInput(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    size = DEFAULT_SIZE if size is None else size
    chosen = tuple(sorted(set(names)))
    try:
        check_request(chosen, [size], precision, "model")
    except MobilestyleError as exc:
        raise BadInput(str(exc)) from None
    return ModelOptions(chosen, size, precision)


class LockedTemplateCache(TemplateCache):
    """The export stage's template cache for worker threads: one conversion per key even when jobs race for it."""

    def __init__(self) -> None:
        super().__init__()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, build: Callable[[], Template], what: str = "") -> Template | None:
        if key in self.memory:
            return self.memory[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return super().get(key, build, what)


def _model_version(style_nets: StyleNets) -> str:
    """What makes the files: the meta network's bytes, the package and the export graph version."""
    digest = hashlib.sha256()
    with open(style_nets.loaded.path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{__version__}+graph{GRAPH_VERSION}+{digest.hexdigest()[:16]}"


def _zip_folder(folder: Path, target: Path) -> None:
    """A CoreML .mlpackage (a folder) as one deterministic zip, so it downloads as one file."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(Path(folder.name) / path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Service:
    def __init__(self, config: ServeConfig, style_nets: StyleNets | None = None) -> None:
        self.config = config
        self.style_nets = style_nets or StyleNets.load(config.checkpoint, config.vgg_weights)
        self.model_version = _model_version(self.style_nets)
        self.cache = ModelCache(config.cache_dir, config.cache_max_bytes)
        self.pool = WorkPool(config.workers, config.queue, config.retry_after_s)
        self.templates = LockedTemplateCache()
        self.ready = False
        self.warm_seconds: float | None = None
        self.built = 0
        self.rebuilt = 0
        self._nets: OrderedDict[str, TransformNet] = OrderedDict()
        self._nets_lock = threading.Lock()

    # -- start-up -----------------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Convert (or load) the templates of the warm formats at the default size and precision, and run every stage
        once, so the first request pays no conversion. Sets ``ready``."""
        start = time.perf_counter()
        formats = [f for f in self.config.warm_formats if _installed(f)]
        rng = np.random.default_rng(0)
        picture = Image.fromarray(rng.integers(0, 256, (DEFAULT_SIZE, DEFAULT_SIZE, 3), dtype=np.uint8), "RGB")
        net = self.style_nets.net(picture)
        with scratch_dir("mobilestyle-serve-warm") as scratch:
            for fmt in formats:
                export(
                    net,
                    formats=[fmt],
                    sizes=[DEFAULT_SIZE],
                    precision=DEFAULT_PRECISION,
                    out_dir=scratch,
                    name="warm",
                    cache=self.templates,
                )
        self.warm_seconds = round(time.perf_counter() - start, 3)
        self.ready = True
        log.info("templates warm (%s) in %.1f s", ", ".join(formats) or "none", self.warm_seconds)

    # -- ids ----------------------------------------------------------------------------------------------------
    def model_id(self, style_sha256: str, options: ModelOptions) -> str:
        key = {"style_sha256": style_sha256, **options.to_dict(), "model_version": self.model_version}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    # -- models ---------------------------------------------------------------------------------------------------
    async def model(self, style_bytes: bytes, options: ModelOptions) -> BuildResult:
        """The entry for this style and options: from the cache (checked), else built on the pool."""
        start = time.perf_counter()
        style_sha = sha256_bytes(style_bytes)
        model_id = self.model_id(style_sha, options)
        entry = await asyncio.to_thread(self.cache.get, model_id)
        if entry is not None:
            return BuildResult(entry, True, {"total_ms": _ms(start)})
        if not self.ready:
            raise NotReady("the service is starting (conversion templates are warming up); retry shortly")
        submitted = time.perf_counter()

        def job() -> BuildResult:
            queued_ms = _ms(submitted)
            again = self.cache.get(model_id)  # built meanwhile by another request
            if again is not None:
                return BuildResult(again, True, {"queue_ms": queued_ms})
            t0 = time.perf_counter()
            picture = _decode(style_bytes, "style")
            prepared = _bad_input(lambda: prepare_style(picture, self.style_nets.style_size))
            decode_ms = _ms(t0)
            result = self._build(model_id, prepared, style_sha, options)
            result.timings = {"queue_ms": queued_ms, "decode_ms": decode_ms, **result.timings}
            return result

        result = await _wait(self.pool.submit(job, key=model_id))
        result.timings["total_ms"] = _ms(start)
        return result

    def _build(self, model_id: str, prepared: Image.Image, style_sha: str, options: ModelOptions) -> BuildResult:
        """Runs on a worker: prepared style picture -> net -> verified files -> cache entry."""
        t0 = time.perf_counter()
        net = self._net(style_sha, prepared)
        net_ms = _ms(t0)
        t1 = time.perf_counter()

        def write(folder: Path) -> dict[str, Any]:
            (folder / STYLE_FILE).write_bytes(_png(prepared))
            files = []
            for fmt in options.formats:
                (record,) = export(
                    net,
                    formats=[fmt],
                    sizes=[options.size],
                    precision=options.precision,
                    out_dir=folder,
                    name="model",
                    style_sha256=style_sha,
                    extra_metadata={**self.style_nets.provenance(), "model_id": model_id},
                    cache=self.templates,
                )
                path = Path(record.path)
                if path.is_dir():  # CoreML .mlpackage
                    _zip_folder(path, path.with_name(path.name + ".zip"))
                    shutil.rmtree(path)
                    path = path.with_name(path.name + ".zip")
                files.append(
                    {
                        "format": fmt,
                        "name": path.name,
                        "precision": record.precision,
                        "sizes": record.sizes,
                        "max_abs_error": record.max_abs_error,
                        "psnr_db": record.to_dict()["psnr_db"],
                        "verification": record.verification,
                    }
                )
                if self.config.build_delay_s:
                    time.sleep(self.config.build_delay_s)
            return {
                "options": options.to_dict(),
                "model_version": self.model_version,
                "style": {"name": STYLE_FILE, "upload_sha256": style_sha},
                "files": files,
                "created": time.time(),
            }

        try:
            entry = self.cache.put(model_id, write)
        except MobilestyleError as exc:
            raise ApiError(f"export failed: {exc}", status=500, code="export_failed") from None
        self.built += 1
        return BuildResult(entry, False, {"net_ms": net_ms, "export_ms": _ms(t1)})

    async def file(self, model_id: str, name: str) -> tuple[Entry, bytes]:
        """A file of an entry, re-hashed; a corrupt file is rebuilt from the entry's stored style picture first."""
        entry = await asyncio.to_thread(self.cache.get, model_id, False) if valid_id(model_id) else None
        if entry is None or (entry.file_info(name) is None and name != STYLE_FILE):
            raise NotFound(f"no model {model_id} with a file {name!r}")
        data = await asyncio.to_thread(self.cache.read, entry, name)
        if data is not None:
            return entry, data
        rebuilt = await self.rebuild(entry)
        data = await asyncio.to_thread(self.cache.read, rebuilt, name)
        if data is None:
            raise ApiError(f"model {model_id}: {name} is corrupt and could not be rebuilt", status=500, code="corrupt")
        return rebuilt, data

    async def rebuild(self, entry: Entry) -> Entry:
        """Rebuild a corrupt entry from its stored style picture (removed, and 404, when that is corrupt too)."""
        style = await asyncio.to_thread(self.cache.read, entry, STYLE_FILE)
        if style is None:
            self.cache.remove(entry.id)
            raise NotFound(f"model {entry.id} was corrupt and has been removed; POST the style again")
        options = ModelOptions(tuple(entry.meta["options"]["formats"]), entry.meta["options"]["size"], entry.meta["options"]["precision"])
        style_sha = entry.meta["style"]["upload_sha256"]

        def job() -> BuildResult:
            return self._build(entry.id, _decode(style, "stored style"), style_sha, options)

        result = await _wait(self.pool.submit(job, key=entry.id))
        self.rebuilt += 1
        return result.entry

    async def metadata(self, model_id: str) -> Entry:
        entry = await asyncio.to_thread(self.cache.get, model_id) if valid_id(model_id) else None
        if entry is None:
            raise NotFound(f"no model {model_id!r} in the cache (POST /v1/models builds it)")
        return entry

    # -- previews -------------------------------------------------------------------------------------------------
    async def stylize(self, photo: bytes, style: bytes | None, model_id: str | None, side: int | None, jpeg: bool) -> bytes:
        """Photo + (style upload | model id) -> the stylized picture (PyTorch, the net the files were verified against)."""
        if (style is None) == (model_id is None):
            raise BadInput("give exactly one of the file field 'style' or the form field 'model'")
        if side is not None and not 16 <= side <= MAX_PREVIEW_SIDE:
            raise BadInput(f"size {side} is outside 16..{MAX_PREVIEW_SIDE}")
        entry = await self.metadata(model_id) if model_id is not None else None
        stored = await asyncio.to_thread(self.cache.read, entry, STYLE_FILE) if entry is not None else None
        if entry is not None and stored is None:
            self.cache.remove(entry.id)
            raise NotFound(f"model {model_id} was corrupt and has been removed; POST the style again")

        def job() -> bytes:
            image = _decode(photo, "photo")
            if entry is not None and stored is not None:
                net = self._net(entry.meta["style"]["upload_sha256"], _decode(stored, "stored style"))
            else:
                assert style is not None
                picture = _decode(style, "style")
                net = self._net(sha256_bytes(style), _bad_input(lambda: prepare_style(picture, self.style_nets.style_size)))
            target = min(
                side or DEFAULT_PREVIEW_SIDE, fit_short_side(image, multiple=4, max_pixels=MAX_PREVIEW_SIDE * MAX_PREVIEW_SIDE * 4)
            )
            work = _bad_input(lambda: resize_short_side(image, max(16, target // 4 * 4), multiple=4))
            out = TorchRunner(net).run(np.asarray(work, dtype=np.float32))
            result = Image.fromarray(np.clip(out, 0, 255).round().astype(np.uint8), "RGB")
            buffer = io.BytesIO()
            result.save(buffer, format="JPEG", quality=90) if jpeg else result.save(buffer, format="PNG")
            return buffer.getvalue()

        return await _wait(self.pool.submit(job))

    def _net(self, style_sha: str, prepared: Image.Image) -> TransformNet:
        with self._nets_lock:
            if style_sha in self._nets:
                self._nets.move_to_end(style_sha)
                return self._nets[style_sha]
        net = self.style_nets.net(prepared)
        with self._nets_lock:
            self._nets[style_sha] = net
            while len(self._nets) > NET_CACHE:
                self._nets.popitem(last=False)
        return net

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _installed(fmt: str) -> bool:
    try:
        FORMATS[fmt].require_backend()
    except MobilestyleError:
        return False
    return True


def _decode(data: bytes, what: str) -> Image.Image:
    return _bad_input(lambda: load_image_bytes(data, what, max_pixels=MAX_UPLOAD_PIXELS))


def _bad_input(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except MobilestyleError as exc:
        raise BadInput(str(exc)) from None


async def _wait(future: Future[T]) -> T:
    return await asyncio.wrap_future(future)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
