"""The export stage (installed as ``mobilestyle.export``): a TransformNet -> verified ONNX / TFLite / CoreML files.

Importing this package never imports onnx, coremltools or litert-torch; each format imports its backend
when it is used and names the extra to install when it is missing.

- api.py: ``export(net, formats=, sizes=, precision=, out_dir=, name=)`` -> [ArtifactRecord]
- model_format.py: ModelFormat (what a format object knows), I/O names, export sizes, TFLite signature names
- onnx_format.py / tflite_format.py / coreml_format.py: one format object each (convert, verify, run)
- registry.py: FORMATS by name, and everything that meets an exported file by its path (read_metadata, open_model)
- graph.py: the export form of the net; layout.py + templates.py: convert once, patch each new net's weights
- metadata.py: the model interface stored in every file; verify.py: parity against PyTorch; rescale.py: fp16 guard
"""

from __future__ import annotations

from mobilestyle.export.api import ArtifactRecord, check_request, export
from mobilestyle.export.registry import FORMAT_NAMES, FORMATS, open_model, read_metadata

__all__ = ["FORMATS", "FORMAT_NAMES", "ArtifactRecord", "check_request", "export", "open_model", "read_metadata"]
