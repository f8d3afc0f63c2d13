"""Exporters (installed as ``mobilestyle.export``): one module per format plus shared verification.

Importing this package never imports onnx, coremltools or litert-torch; each format module imports
its backend when it is used and names the extra to install when it is missing.

- api.py: ArtifactRecord, export_net, StyleExporter (write, verify, rename)
- onnx_format.py / tflite_format.py / coreml_format.py: one converter per format
- layout.py + templates.py: convert once, patch each new style's weights into the converted bytes
- metadata.py: the model interface stored in every file; verify.py: parity against PyTorch
"""

from __future__ import annotations

from typing import Any

FORMATS = ("onnx", "tflite", "coreml")
__all__ = ["FORMATS", "ArtifactRecord", "StyleExporter", "export_net", "read_metadata"]


def __getattr__(name: str) -> Any:
    if name in ("ArtifactRecord", "StyleExporter", "export_net"):
        from mobilestyle.export import api

        return getattr(api, name)
    if name == "read_metadata":
        from mobilestyle.export.metadata import read_metadata

        return read_metadata
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
