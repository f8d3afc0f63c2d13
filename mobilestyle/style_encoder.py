"""The first stages of the pipeline: style image -> style encoder (frozen VGG-16 statistics) -> meta network
-> a standalone TransformNet, which the export stage (mobilestyle.export.export) turns into files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from mobilestyle.images import image_to_tensor, prepare_style
from mobilestyle.meta import MetaNetwork
from mobilestyle.model_files import LoadedModel, load_model
from mobilestyle.runners import torch_threads
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder, style_statistics

ENCODE_THREADS = 1  # a one-off pass: see runners.torch_threads


class StyleEncoder:
    """VGG-16 -> 1920 style statistics for the meta network (one frozen VGG, loaded once)."""

    def __init__(self, vgg: VGGEncoder) -> None:
        self.vgg = vgg

    @classmethod
    def load(cls, weights: str | Path | None = None) -> StyleEncoder:
        return cls(VGGEncoder.from_weights(weights))

    @torch.no_grad()
    def statistics(self, style: Image.Image, style_size: int) -> torch.Tensor:
        device = next(self.vgg.parameters()).device
        tensor = image_to_tensor(prepare_style(style, style_size)).to(device)
        return style_statistics(self.vgg(tensor))


def emit_style_net(meta_model: MetaNetwork, encoder: StyleEncoder, style: Image.Image, style_size: int) -> TransformNet:
    """Style image -> standalone transformation net (one meta-network forward pass)."""
    return meta_model.emit(encoder.statistics(style, style_size))


class StyleNets:
    """A trained meta network and the style encoder, loaded once: style picture -> TransformNet, for any number of styles."""

    def __init__(self, loaded: LoadedModel, encoder: StyleEncoder) -> None:
        if not isinstance(loaded.model, MetaNetwork):
            raise TypeError("StyleNets needs a MetaNetwork checkpoint")
        self.loaded = loaded
        self.meta_network: MetaNetwork = loaded.model
        self.encoder = encoder

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, vgg_weights: str | Path | None = None) -> StyleNets:
        """The checkpoint's meta network (default: the shipped model) and the VGG-16 weights."""
        return cls(load_model(checkpoint, expect="MetaNetwork"), StyleEncoder.load(vgg_weights))

    @property
    def style_size(self) -> int:
        return self.loaded.style_size

    def statistics(self, style: Image.Image) -> torch.Tensor:
        """The style's 1 x 1920 VGG statistics at the model's style size (what the meta network reads)."""
        with torch_threads(ENCODE_THREADS):
            return self.encoder.statistics(style, self.style_size)

    def net(self, style: Image.Image) -> TransformNet:
        with torch_threads(ENCODE_THREADS):
            return emit_style_net(self.meta_network, self.encoder, style, self.style_size)

    def provenance(self) -> dict[str, Any]:
        """Where the nets come from, for the exported files' metadata."""
        return {"checkpoint": self.loaded.path.name, "style_size": self.style_size}
