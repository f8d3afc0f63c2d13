"""Textures from noise: a transformation net from a random hidden code, no style image.

The hidden code is sampled from a Gaussian fitted to the training styles. The meta network's hidden layer is
affine in the log1p statistics before its ReLU (code = relu(A log1p(stats) + b)), so a Gaussian over log1p
statistics with the training styles' mean and covariance *is* the Gaussian over pre-ReLU hidden codes with
their mean and covariance, for any trained model. We therefore ship the prior in statistics space, where it does
not depend on the model (``StylePrior``: mean, the top principal directions scaled by their standard deviations,
and the remaining per-value standard deviation; mobilestyle/models/style_prior.safetensors, written by
scripts/style_prior.py), sample there, and let the model map the sample to its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mobilestyle.checkpoint import load_checkpoint, save_checkpoint
from mobilestyle.controls.mixing import net_from_code
from mobilestyle.errors import MobilestyleError
from mobilestyle.meta import MetaNetwork
from mobilestyle.model_files import MODELS_DIR
from mobilestyle.transformer import TransformNet

PRIOR_PATH = MODELS_DIR / "style_prior.safetensors"
DEFAULT_RANK = 32


@dataclass
class StylePrior:
    mean: torch.Tensor  # 1920: mean of log1p(statistics)
    components: torch.Tensor  # rank x 1920: principal directions times their standard deviation
    residual_std: torch.Tensor  # 1920: standard deviation left outside the components
    n_styles: int

    @classmethod
    def fit(cls, stats: torch.Tensor, rank: int = DEFAULT_RANK) -> StylePrior:
        """Fit to N x 1920 VGG statistics (N > 1)."""
        if stats.dim() != 2 or stats.shape[0] < 2:
            raise ValueError("fit the prior to N x 1920 statistics, N >= 2")
        logs = torch.log1p(stats.double().clamp_min(0))
        mean = logs.mean(0)
        centred = logs - mean
        n = logs.shape[0]
        _, singular, vt = torch.linalg.svd(centred, full_matrices=False)
        rank = min(rank, vt.shape[0])
        components = (singular[:rank, None] / (n - 1) ** 0.5) * vt[:rank]
        left = (centred.square().sum(0) / (n - 1) - components.square().sum(0)).clamp_min(0)
        return cls(mean.float(), components.float(), left.sqrt().float(), n)

    def explained(self) -> float:
        """Share of the total variance the components hold."""
        kept = float(self.components.double().square().sum())
        return kept / (kept + float(self.residual_std.double().square().sum()))

    def sample(self, seed: int, temperature: float = 1.0, count: int = 1) -> torch.Tensor:
        """``count`` x 1920 statistics; ``temperature`` scales the deviation from the mean (0 = the mean style)."""
        generator = torch.Generator().manual_seed(int(seed))
        low = torch.randn(count, self.components.shape[0], generator=generator)
        rest = torch.randn(count, self.mean.shape[0], generator=generator)
        logs = self.mean + temperature * (low @ self.components + rest * self.residual_std)
        return torch.expm1(logs.clamp_min(0))

    def save(self, path: Path) -> Path:
        tensors = {"mean": self.mean, "components": self.components, "residual_std": self.residual_std}
        return save_checkpoint(path, tensors, {"kind": "style_prior", "n_styles": self.n_styles, "rank": int(self.components.shape[0])})

    @classmethod
    def load(cls, path: Path | None = None) -> StylePrior:
        path = Path(path or PRIOR_PATH)
        if not path.is_file():
            raise MobilestyleError(f"no style prior at {path}; write one with scripts/style_prior.py")
        tensors, meta = load_checkpoint(path)
        if meta.get("kind") != "style_prior":
            raise MobilestyleError(f"{path} is not a style prior")
        return cls(tensors["mean"].float(), tensors["components"].float(), tensors["residual_std"].float(), int(meta.get("n_styles", 0)))


@torch.no_grad()
def random_net(model: MetaNetwork, seed: int, prior: StylePrior | None = None, temperature: float = 1.0) -> TransformNet:
    """The net of one random style: statistics sampled from ``prior`` (default: the shipped one), then the model."""
    prior = prior or StylePrior.load()
    stats = prior.sample(seed, temperature)
    return net_from_code(model, model.hidden_code(stats))
