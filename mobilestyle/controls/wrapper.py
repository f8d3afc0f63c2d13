"""The base of the controls that wrap a style net (``PreserveColors``, ``KeepDetail``): RGB 0..255 NCHW in and out.

``export`` converts a wrapper as it is, with the TransformNet inside in its fast export form; the file's ``arch`` is the
inner net's ``config`` and its metadata the wrappers' ``export_metadata``, innermost first (which also keys the
conversion cache: another setting is another converted graph).
"""

from __future__ import annotations

from torch import nn

from mobilestyle.transformer import NetConfig


class NetWrapper(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def own_metadata(self) -> dict[str, object]:
        """What this wrapper writes into the file's metadata."""
        return {}

    @property
    def config(self) -> NetConfig | None:
        """The wrapped net's architecture (also part of the conversion-cache key: equal shapes, other padding)."""
        return getattr(self.net, "config", None)

    @property
    def export_metadata(self) -> dict[str, object]:
        """The wrapped module's metadata (another wrapper's), then this wrapper's."""
        inner = getattr(self.net, "export_metadata", None)
        return {**(inner if isinstance(inner, dict) else {}), **self.own_metadata()}
