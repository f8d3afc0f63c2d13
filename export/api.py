"""The export stage: a net -> verified model files, one per format.

``export(net, formats=..., sizes=..., precision=..., out_dir=..., name=...)`` takes any TransformNet (from the
meta network, `adapt`, a control that mixes or recolours styles) and, for each format object of registry.py:
builds the export graph (graph.py), converts it through the template cache (templates.py: a warm process
patches the weights into an already converted graph), writes the file(s) under a temporary name, verifies
them against the net in PyTorch (verify.py) and renames them. A failed verification raises
MobilestyleError and leaves no model file.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from mobilestyle.atomic import atomic_path, ensure_writable_dir
from mobilestyle.errors import MobilestyleError
from mobilestyle.export.graph import GRAPH_VERSION, export_graph
from mobilestyle.export.layout import flat_weights
from mobilestyle.export.metadata import build_metadata, patch_metadata
from mobilestyle.export.model_format import PRECISIONS, ModelFormat, check_sides
from mobilestyle.export.registry import formats as format_objects
from mobilestyle.export.rescale import normalize_norm_inputs
from mobilestyle.export.templates import DEFAULT_CACHE, Template, TemplateCache, build_template, template_key
from mobilestyle.export.verify import TorchReference, check_fp16_guard
from mobilestyle.transformer import TransformNet

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ArtifactRecord:
    """One written, verified file: what `mobilestyle export --json` prints per file."""

    path: str
    bytes: int
    format: str
    precision: str
    sizes: list[list[int]] | str
    max_abs_error: float | None
    psnr_db: float | None
    verified: bool
    verification: str
    seconds: float
    style_name: str
    style_sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["psnr_db"] is not None and not np.isfinite(data["psnr_db"]):
            data["psnr_db"] = None if np.isnan(data["psnr_db"]) else 999.0
        return data


def check_request(formats: Sequence[str], sizes: Sequence[int], precision: str, name: str) -> list[ModelFormat]:
    """Refuse a bad request before any work; returns the format objects, backends checked installed."""
    chosen = format_objects(formats)
    if precision not in PRECISIONS:
        raise MobilestyleError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    check_sides(sizes)
    if not _SAFE_NAME.match(name):
        raise MobilestyleError(f"bad model name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    for fmt in chosen:
        fmt.require_backend()
    return chosen


def _template(fmt: ModelFormat, graph: nn.Module, sizes: list[int], precision: str, cache: TemplateCache) -> Template | None:
    """The cached conversion for this request (TFLite int8: the fp32 template, quantized per style)."""
    stored = fmt.template_precision(precision)
    convert = partial(fmt.convert, sizes=sizes, precision=stored)
    # fp16 files cannot hold the index values that map the weights: the mapping is learnt on an fp32 conversion
    convert_fp32 = partial(fmt.convert, sizes=sizes, precision="fp32") if stored == "fp16" else None
    key = template_key(fmt.name, graph, GRAPH_VERSION, fmt.template_options(sizes, stored), fmt.backend_versions())
    what = f"{fmt.name} {stored} {'/'.join(f'{size}px' for size in sizes)}"
    return cache.get(key, lambda: build_template(graph, convert, fmt.float_regions, convert_fp32), what)


def model_files(
    fmt: ModelFormat,
    graph: nn.Module,
    sizes: list[int],
    precision: str,
    metadata: dict,
    *,
    cache: TemplateCache | None = None,
    fresh: bool = False,
) -> tuple[dict[str, bytes], str]:
    """The converted files of ``graph`` with metadata; returns (files, how: "patched template" | "fresh conversion")."""
    try:
        template = None if fresh else _template(fmt, graph, sizes, precision, cache or DEFAULT_CACHE)
        if template is None:
            files, how = fmt.convert(graph, sizes, fmt.file_precision(precision)), "fresh conversion"
        else:
            files, how = fmt.finish(template.render(flat_weights(graph), None), precision), "patched template"
    except MobilestyleError:
        raise
    except Exception as exc:  # a converter failure: one line, naming the format
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise MobilestyleError(f"{fmt.name} conversion failed: {type(exc).__name__}: {first}") from exc
    return patch_metadata(files, metadata), how


def _on_transform_nets(net: nn.Module, fn: Callable[[TransformNet], nn.Module]) -> nn.Module:
    """``fn`` applied to ``net`` if it is a TransformNet, else to every TransformNet inside it (a wrapper such as
    controls.colors.PreserveColors), in a copy: the module around them and ``net`` itself stay as they are."""
    if isinstance(net, TransformNet):
        return fn(net)
    clone = copy.deepcopy(net)
    inner: dict[str, TransformNet] = {}
    for name, module in clone.named_modules():
        if isinstance(module, TransformNet) and not any(name.startswith(f"{outer}.") for outer in inner):
            inner[name] = module  # the outermost ones: a TransformNet is replaced whole
    if not inner:
        return net
    for name, module in inner.items():
        parent_name, _, attr = name.rpartition(".")
        setattr(clone.get_submodule(parent_name) if parent_name else clone, attr, fn(module))
    return clone


def _export_form(net: nn.Module, static_shapes: bool) -> nn.Module:
    """Every TransformNet (``net`` or the ones a wrapper holds) in its fast export form (graph.py); other modules as they are."""
    return _on_transform_nets(net, partial(export_graph, static_shapes=static_shapes)).eval()


def _module_metadata(net: nn.Module, extra: dict | None) -> dict:
    """What a module says about itself (an ``export_metadata`` dict, e.g. a control's wrapper), then the caller's ``extra``."""
    own = getattr(net, "export_metadata", None)
    return {**(own if isinstance(own, dict) else {}), **(extra or {})}


def _architecture(net: nn.Module) -> dict:
    config = getattr(net, "config", None)
    return config.to_dict() if config is not None and hasattr(config, "to_dict") else {"module": type(net).__name__}


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def export(
    net: nn.Module,
    *,
    formats: Sequence[str],
    sizes: Sequence[int],
    precision: str,
    out_dir: Path,
    name: str,
    style_sha256: str | None = None,
    extra_metadata: dict | None = None,
    cache: TemplateCache | None = None,
    fresh: bool = False,
) -> list[ArtifactRecord]:
    """Write and verify OUT_DIR/NAME<suffix> for each format; ``fresh`` bypasses the template cache.

    ``net`` is a TransformNet, or any nn.Module with its interface (NCHW RGB 0..255 in and out, e.g. a wrapper
    around one): every TransformNet, alone or inside such a module, is exported in its fast form (graph.py) and
    its fp16 files get the norm-input rescaling; the rest of the module is converted as it is. Put in eval mode here.
    The module's ``config`` (as ``arch``) and ``export_metadata`` (a dict, e.g. a wrapper's), then ``style_sha256`` and
    ``extra_metadata`` go into each file's metadata (where the net came from); ``sizes`` are square sides (TFLite
    signatures, CoreML's default).
    """
    sizes = list(dict.fromkeys(int(s) for s in sizes))
    chosen = check_request(list(dict.fromkeys(formats)), sizes, precision, name)
    out_dir = ensure_writable_dir(Path(out_dir))
    net = net.eval()
    reference = TorchReference(net)
    needs_fp16 = any(fmt.file_precision(precision) == "fp16" for fmt in chosen)
    # same function, no fp16 overflow in the norms (the TransformNets inside a wrapper too)
    fp16_net = _on_transform_nets(net, normalize_norm_inputs) if needs_fp16 else None
    fp16_note = check_fp16_guard(fp16_net) if fp16_net is not None else ""
    graphs: dict[tuple[str, bool], nn.Module] = {}
    records = []
    for fmt in chosen:
        start = time.perf_counter()
        stored = fmt.file_precision(precision)
        key = (stored, fmt.static_shapes)
        if key not in graphs:
            graphs[key] = _export_form(fp16_net if fp16_net is not None and stored == "fp16" else net, fmt.static_shapes)
        metadata = build_metadata(
            format=fmt.name,
            style_name=name,
            style_sha256=style_sha256,
            sizes=fmt.metadata_sizes(sizes),
            layout=fmt.layout,
            precision=stored,
            arch=_architecture(net),
            input_name=fmt.input_name,
            output_name=fmt.output_name,
            extra=_module_metadata(net, extra_metadata),
        )
        files, how = model_files(fmt, graphs[key], sizes, precision, metadata, cache=cache, fresh=fresh)
        target = out_dir / f"{name}{fmt.suffix}"
        with atomic_path(target) as tmp:  # verified under the temporary name, renamed only when it passes
            fmt.write(files, tmp)
            verification, result = fmt.verify(tmp, reference, sizes, precision, what=target.name)
        note = f"{how}; {fp16_note}" if stored == "fp16" else how
        records.append(
            ArtifactRecord(
                path=str(target),
                bytes=_size_on_disk(target),
                format=fmt.name,
                precision=stored,
                sizes=metadata["sizes"],
                max_abs_error=None if result is None else result.max_abs_error,
                psnr_db=None if result is None else result.psnr_db,
                verified=True,
                verification=f"{verification} ({note})",
                seconds=round(time.perf_counter() - start, 3),
                style_name=name,
                style_sha256=style_sha256,
            )
        )
    return records
