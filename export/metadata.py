"""The model interface written into every exported file, and reading it back.

All formats store one JSON document under the key ``mobilestyle`` (ONNX metadata_props, a TFLite
metadata buffer, CoreML user-defined metadata). It is padded to a fixed size so that a converted
template's placeholder can be overwritten in place for each new style.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mobilestyle import __version__
from mobilestyle.errors import MissingBackendError, MobilestyleError

METADATA_KEY = "mobilestyle"
METADATA_BYTES = 2048
PLACEHOLDER = ('{"mobilestyle_placeholder": "' + "#" * (METADATA_BYTES - 40)).ljust(METADATA_BYTES - 2) + '"}'


def build_metadata(
    *, format: str, style_name: str, style_sha256: str | None, sizes: list[list[int]] | str, layout: str,
    precision: str, arch: dict, input_name: str, output_name: str, extra: dict | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mobilestyle_version": __version__, "format": format, "style_name": style_name, "style_sha256": style_sha256,
        "sizes": sizes, "layout": layout, "value_range": [0, 255], "precision": precision, "arch": arch,
        "input_name": input_name, "output_name": output_name,
    }
    data.update(extra or {})
    return data


def encode_metadata(data: dict[str, Any]) -> str:
    """The JSON text, padded with spaces to exactly METADATA_BYTES (so it fits the template's slot)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    if len(text) > METADATA_BYTES:
        raise MobilestyleError(f"model metadata is {len(text)} bytes, over the {METADATA_BYTES}-byte slot (shorten --name)")
    return text.ljust(METADATA_BYTES)


def patch_metadata(files: dict[str, bytes], data: dict[str, Any]) -> dict[str, bytes]:
    """Overwrite the placeholder (present exactly once across ``files``) with ``data``."""
    needle = PLACEHOLDER.encode()
    hits = [name for name, blob in files.items() if needle in blob]
    if len(hits) != 1 or files[hits[0]].count(needle) != 1:
        raise MobilestyleError("internal: the model template has no unique metadata placeholder")
    name = hits[0]
    out = dict(files)
    out[name] = files[name].replace(needle, encode_metadata(data).encode())
    return out


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The mobilestyle metadata of an exported .onnx, .tflite or .mlpackage."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise MobilestyleError(f"{path}: no such file")
    if suffix == ".onnx":
        text = _onnx_metadata(path)
    elif suffix == ".tflite":
        text = _tflite_metadata(path.read_bytes(), path)
    elif suffix == ".mlpackage":
        text = _coreml_metadata(path)
    else:
        raise MobilestyleError(f"{path}: unknown model type {suffix or '(no suffix)'}")
    if text is None:
        raise MobilestyleError(f"{path}: no mobilestyle metadata in this file")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise MobilestyleError(f"{path}: its mobilestyle metadata is not valid JSON") from None


def _onnx_metadata(path: Path) -> str | None:
    try:
        import onnx
    except ImportError:
        raise MissingBackendError("onnx", "onnx") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common base class
        raise MobilestyleError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    return next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)


def _tflite_metadata(data: bytes, path: Path | None = None) -> str | None:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        raise MissingBackendError("ai-edge-litert", "tflite") from None
    try:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() and entry.Name().decode() == METADATA_KEY:
                buffer = model.Buffers(entry.Buffer())
                if buffer.Offset() > 1:  # stored after the flatbuffer (ai-edge-quantizer writes large models so)
                    return data[buffer.Offset():buffer.Offset() + buffer.Size()].decode()
                return buffer.DataAsNumpy().tobytes().decode()
    except Exception as exc:  # flatbuffers raises plain errors on corrupt input
        raise MobilestyleError(f"{path or 'model'}: not a readable TFLite file ({type(exc).__name__})") from None
    return None


def coreml_spec_path(package: Path) -> Path:
    return package / "Data" / "com.apple.CoreML" / "model.mlmodel"


def _coreml_metadata(package: Path) -> str | None:
    try:
        from coremltools.proto import Model_pb2
    except ImportError:
        raise MissingBackendError("coremltools", "coreml") from None
    spec = Model_pb2.Model()
    try:
        spec.ParseFromString(coreml_spec_path(package).read_bytes())
    except (OSError, Exception) as exc:
        raise MobilestyleError(f"{package}: not a readable CoreML package ({type(exc).__name__})") from None
    return spec.description.metadata.userDefined.get(METADATA_KEY)
