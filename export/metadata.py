"""The model interface written into every exported file (read back with registry.read_metadata).

All formats store one JSON document under the key ``mobilestyle`` (ONNX metadata_props, a TFLite
metadata buffer, CoreML user-defined metadata). It is padded to a fixed size so that a converted
template's placeholder can be overwritten in place for each new style.
"""

from __future__ import annotations

import json
from typing import Any

from mobilestyle import __version__
from mobilestyle.errors import MobilestyleError

METADATA_KEY = "mobilestyle"
METADATA_BYTES = 2048
PLACEHOLDER = ('{"mobilestyle_placeholder": "' + "#" * (METADATA_BYTES - 40)).ljust(METADATA_BYTES - 2) + '"}'


def build_metadata(
    *,
    format: str,
    style_name: str,
    style_sha256: str | None,
    sizes: list[list[int]] | str,
    layout: str,
    precision: str,
    arch: dict,
    input_name: str,
    output_name: str,
    extra: dict | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mobilestyle_version": __version__,
        "format": format,
        "style_name": style_name,
        "style_sha256": style_sha256,
        "sizes": sizes,
        "layout": layout,
        "value_range": [0, 255],
        "precision": precision,
        "arch": arch,
        "input_name": input_name,
        "output_name": output_name,
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
