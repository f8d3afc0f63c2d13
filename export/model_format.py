"""What every exported format shares: the I/O names, the export sizes, TFLite signature names, and
:class:`ModelFormat`, the small object each ``*_format.py`` defines for its format.

A format object knows its name, file suffix, tensor layout and backend packages; it converts an export
graph to files, writes them, verifies them against PyTorch and opens a runner on a written file.
api.py, registry.py, bundle.py and the bench iterate over the objects in registry.FORMATS and never
switch on format names.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from torch import nn

from mobilestyle.errors import MissingBackendError, MobilestyleError
from mobilestyle.export.layout import Region
from mobilestyle.export.verify import VERIFY_THREADS, Parity, TorchReference, verify_parity
from mobilestyle.runners import Runner

INPUT_NAME = "image"
OUTPUT_NAME = "stylized"
PRECISIONS = ("fp32", "fp16", "int8")
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 64, 2048, 4
"""The square sides a model can be exported at (TFLite signatures, CoreML's default, the probe and verify images)."""
_SIGNATURE = re.compile(r"^size_(\d+)x(\d+)$")
MAX_RUN_SIDE = 4096
"""The largest side a dynamic-shape file (ONNX, CoreML) accepts at run time."""


def signature_name(height: int, width: int) -> str:
    """The TFLite signature that serves HxW inputs (also named in the demos' manifest)."""
    return f"size_{height}x{width}"


def signature_size(name: str) -> tuple[int, int] | None:
    """(H, W) a signature named by :func:`signature_name` serves; None for any other name."""
    match = _SIGNATURE.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_sides(sizes: Sequence[int], what: str = "size") -> None:
    """Export sides: multiples of 4 from MIN_SIDE to MAX_SIDE."""
    if not sizes:
        raise MobilestyleError(f"give at least one --{what}")
    for size in sizes:
        if size % SIDE_MULTIPLE or not MIN_SIDE <= size <= MAX_SIDE:
            raise MobilestyleError(f"unsupported {what} {size}: sizes must be multiples of {SIDE_MULTIPLE} from {MIN_SIDE} to {MAX_SIDE}")


class ModelFormat:
    """One exported file format. Subclasses fill in the class attributes and convert / float_regions."""

    name: str = ""
    suffix: str = ""
    other_suffixes: tuple[str, ...] = ()
    """Suffixes of files of this format that mobilestyle does not write but recognises (to explain a refusal)."""
    layout: str = ""
    """The ``layout`` written into the file's metadata: NCHW, NHWC, or image (CoreML ImageType)."""
    backend_packages: tuple[tuple[str, str], ...] = ()
    """(importable module, pip package) pairs the format needs."""
    converter_packages: tuple[str, ...] = ()
    """The packages whose versions decide the converted bytes (part of the conversion-cache key)."""
    static_shapes: bool = False
    """True when the converter traces fixed sizes (one signature per size): the export graph may specialise."""
    runs_here: bool = True
    """False when the file cannot be run on this platform (CoreML predictions need macOS)."""
    input_name = INPUT_NAME
    output_name = OUTPUT_NAME

    # ------------------------------------------------------------------------------------- precisions
    def file_precision(self, precision: str) -> str:
        """What the file stores for the requested precision."""
        return precision

    def template_precision(self, precision: str) -> str:
        """The precision of the cached conversion that files of ``precision`` are patched from."""
        return self.file_precision(precision)

    def metadata_sizes(self, sizes: Sequence[int]) -> list[list[int]] | str:
        """The ``sizes`` entry of the metadata: the served HxW list, or "dynamic"."""
        return [[s, s] for s in sizes] if self.static_shapes else "dynamic"

    # ------------------------------------------------------------------------------------- conversion
    def backend_versions(self) -> dict[str, str]:
        return {package: version(package) for package in self.converter_packages}

    def require_backend(self) -> None:
        """Fail before any work when a backend package is missing (checked without importing it)."""
        for module, package in self.backend_packages:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ValueError, ImportError):
                found = False
            if not found:
                raise MissingBackendError(package, self.name)

    def template_options(self, sizes: Sequence[int], precision: str) -> dict:
        """What, beside the graph, decides the converted bytes (part of the conversion-cache key)."""
        return {}

    def convert(self, graph: nn.Module, sizes: Sequence[int], precision: str) -> dict[str, bytes]:
        """A fresh conversion of ``graph``: the file(s) by relative path, metadata placeholder included."""
        raise NotImplementedError

    def float_regions(self, files: dict[str, bytes], n_values: int) -> list[Region]:
        """Every float32 run in the converted files that may hold graph weights (template mapping)."""
        raise NotImplementedError

    def finish(self, files: dict[str, bytes], precision: str) -> dict[str, bytes]:
        """Files patched from a template -> the requested precision (TFLite int8: quantize per style)."""
        return files

    # ------------------------------------------------------------------------------- writing, checking
    def write(self, files: dict[str, bytes], target: Path) -> None:
        """Write the converted files at ``target`` (a single file unless the format is a package folder)."""
        (data,) = files.values()
        target.write_bytes(data)

    def check_self_contained(self, path: Path) -> None:
        """Refuse a file that needs files beside it (the demos load one file); most formats cannot."""

    def verify_shapes(self, sizes: Sequence[int]) -> list[tuple[int, int]]:
        return [(s, s) for s in sizes]

    verify_label = ""
    """Who ran the file in verification, e.g. "onnxruntime"; the label adds "vs PyTorch"."""

    def verify(self, path: Path, reference: TorchReference, sizes: Sequence[int], precision: str, what: str) -> tuple[str, Parity | None]:
        """Check the file at ``path`` (named ``what`` in errors) against ``reference``, the net in PyTorch.

        Returns (how it was verified, parity), or raises MobilestyleError when the precision's limit is missed.
        """
        runner = self.open_runner(path, threads=VERIFY_THREADS, quiet=True)
        return verify_parity(runner, reference, self.verify_shapes(sizes), self.file_precision(precision), what, self.verify_label)

    def open_runner(self, path: Path | None, threads: int | None = None, quiet: bool = False, content: bytes | None = None) -> Runner:
        """A Runner on a written file (``quiet``: a one-off pass, idle threads sleep)."""
        raise MobilestyleError(f"{path}: {self.name} files cannot be run here")

    def read_metadata_text(self, path: Path) -> str | None:
        """The JSON text stored under the metadata key, or None when the file has none."""
        raise NotImplementedError
