"""Perceptual losses on one frozen VGG-16: content (feature MSE), style (mean/std or Gram MSE), TV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mobilestyle.vgg import TAPS, VGGEncoder, mean_std

StyleKind = Literal["meanstd", "gram"]


@dataclass(frozen=True)
class LossWeights:
    content: float = 1.0
    style: float = 50.0
    tv: float = 1e-6
    content_layer: str = "relu3_3"
    # A second, shallower content term (the photo's local structure: edges, fine detail); 0 = the paper's objective.
    structure: float = 0.0
    structure_layer: str = "relu2_2"
    style_layers: tuple[str, ...] = TAPS
    style_kind: StyleKind = "meanstd"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["style_layers"] = list(self.style_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LossWeights:
        data = dict(data)
        if "style_layers" in data:
            data["style_layers"] = tuple(data["style_layers"])
        return cls(**data)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C*H*W (Johnson / MetaStyle convention)."""
    b, c, h, w = features.shape
    flat = features.float().flatten(2)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def style_targets(features: dict[str, torch.Tensor], layers: Sequence[str], kind: StyleKind) -> dict[str, tuple[torch.Tensor, ...]]:
    """Style representation per layer: (mean, std) or (gram,)."""
    if kind == "gram":
        return {layer: (gram(features[layer]),) for layer in layers}
    return {layer: mean_std(features[layer]) for layer in layers}


def style_distance(output: Mapping[str, tuple[torch.Tensor, ...]], target: Mapping[str, tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """Sum over layers of the MSE between representations; targets broadcast over the batch."""
    return style_distance_each(output, target).mean()


def style_distance_each(output: Mapping[str, tuple[torch.Tensor, ...]], target: Mapping[str, tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """The style distance of each sample: a vector over the batch (its mean is ``style_distance``)."""
    total = torch.zeros((), device=next(iter(output.values()))[0].device)
    for layer, parts in output.items():
        for got, want in zip(parts, target[layer]):
            total = total + (got.float() - want.float().expand_as(got)).square().flatten(1).mean(1)
    return total


def balance_weights(distances: torch.Tensor, reference: float, gamma: float) -> torch.Tensor:
    """Per-sample style weights ``(d / reference) ** gamma``, the ratio clamped to [1/8, 8]. ``d`` is the unchanged
    photo's own style distance to its style: gamma > 0 asks less style of a photo whose style is near it (a soft
    painting) and more of one far from it, as Magenta's outputs do (docs/training.md section 6)."""
    return (distances / reference).clamp(1 / 8, 8) ** gamma


def balance_reference(distances: torch.Tensor, gamma: float) -> float:
    """The reference distance at which ``balance_weights`` average 1 over ``distances`` (a sample of training pairs):
    the power mean ``mean(d ** gamma) ** (1 / gamma)``, so the balance moves style pressure between styles without
    adding any (before the clamp)."""
    return float(distances.double().pow(gamma).mean().pow(1 / gamma))


def content_distance(
    weights: LossWeights, out_feats: Mapping[str, torch.Tensor], content_feats: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    """Weighted content MSE at ``content_layer`` plus, when ``structure`` > 0, at ``structure_layer``."""
    loss = weights.content * F.mse_loss(out_feats[weights.content_layer].float(), content_feats[weights.content_layer].float())
    if weights.structure:
        layer = weights.structure_layer
        loss = loss + weights.structure * F.mse_loss(out_feats[layer].float(), content_feats[layer].float())
    return loss


def content_layers(weights: LossWeights) -> tuple[str, ...]:
    """The VGG layers the content terms read."""
    return (weights.content_layer, weights.structure_layer) if weights.structure else (weights.content_layer,)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Sum of squared neighbour differences, averaged over the batch."""
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).float().square().sum()
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).float().square().sum()
    return (dx + dy) / image.shape[0]


class PerceptualLoss(nn.Module):
    """Weighted content, style and TV losses; ``forward`` returns the weighted parts and their sum."""

    def __init__(self, vgg: VGGEncoder, weights: LossWeights) -> None:
        super().__init__()
        self.vgg = vgg
        self.weights = weights
        self.layers = tuple(dict.fromkeys((*weights.style_layers, *content_layers(weights))))

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vgg(images)

    def style_of(self, style_image: torch.Tensor) -> dict[str, tuple[torch.Tensor, ...]]:
        with torch.no_grad():
            feats = self.vgg(style_image)
            return style_targets(feats, self.weights.style_layers, self.weights.style_kind)

    def forward(
        self,
        output: torch.Tensor,
        content: torch.Tensor,
        style_target: dict[str, tuple[torch.Tensor, ...]],
        content_features: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """``content_features``: the photo's features at ``content_layers(weights)``, if already computed."""
        w = self.weights
        out_feats = self.vgg(output)
        if content_features is None:
            with torch.no_grad():
                content_features = self.vgg(content, taps=content_layers(w))
        content_loss = content_distance(w, out_feats, content_features)
        style_loss = style_distance(style_targets(out_feats, w.style_layers, w.style_kind), style_target)
        tv_loss = total_variation(output)
        parts = {
            "content_loss": content_loss,
            "style_loss": w.style * style_loss,
            "tv_loss": w.tv * tv_loss,
        }
        parts["total_loss"] = parts["content_loss"] + parts["style_loss"] + parts["tv_loss"]
        return parts
