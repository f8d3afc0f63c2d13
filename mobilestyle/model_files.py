"""Trained model files: load checkpoints (full training state or slim fp16 model files) as a MetaNetwork or
TransformNet, save slim model files, and find the default model shipped in the package's models/ folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mobilestyle.checkpoint import load_checkpoint, prefixed, save_checkpoint
from mobilestyle.errors import MobilestyleError
from mobilestyle.meta import MetaNetwork
from mobilestyle.transformer import NetConfig, TransformNet

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_META_MODEL = "meta8.safetensors"
MODEL_ENV = "MOBILESTYLE_MODEL"
MIN_STYLE_SIZE, MAX_STYLE_SIZE = 16, 1024  # the short side a model reads style pictures at (from its header)


def default_checkpoint(name: str = DEFAULT_META_MODEL) -> Path:
    """$MOBILESTYLE_MODEL, else the model shipped in mobilestyle/models/."""
    override = os.environ.get(MODEL_ENV)
    if override and name == DEFAULT_META_MODEL:
        return Path(override)
    path = MODELS_DIR / name
    if not path.is_file():
        raise MobilestyleError(
            f"no default model {name} ships with this install; pass --checkpoint PATH "
            f"(a run folder or .safetensors from `mobilestyle train`) or set {MODEL_ENV}"
        )
    return path


@dataclass
class LoadedModel:
    model: MetaNetwork | TransformNet
    header: dict[str, Any]
    """The checkpoint's JSON header (method, step, net, options, ...)."""
    path: Path

    @property
    def config(self) -> NetConfig:
        return NetConfig.from_dict(self.header["net"])

    @property
    def style_size(self) -> int:
        options = self.header.get("options", {})
        return int(self.header.get("style_size") or options.get("style_size") or options.get("image_size") or 256)


def _checked_header(path: Path, header: dict[str, Any]) -> NetConfig:
    """The architecture and style size a header states, refused when out of range (a crafted or damaged header)."""
    if not isinstance(header.get("net"), dict):
        raise MobilestyleError(f"checkpoint {path} does not say its architecture (no 'net' entry)")
    try:
        config = NetConfig.from_dict(header["net"])
    except (TypeError, ValueError) as exc:
        raise MobilestyleError(f"checkpoint {path} has an invalid architecture: {exc}") from None
    try:
        style_size = LoadedModel(None, header, path).style_size  # type: ignore[arg-type]
    except (AttributeError, TypeError, ValueError):
        style_size = -1
    if not MIN_STYLE_SIZE <= style_size <= MAX_STYLE_SIZE:
        raise MobilestyleError(f"checkpoint {path} has an invalid style size (must be {MIN_STYLE_SIZE}..{MAX_STYLE_SIZE})")
    return config


def load_model(path: str | Path | None, expect: str | None = None) -> LoadedModel:
    """Load a MetaNetwork or TransformNet from a checkpoint; ``expect`` names the class required."""
    path = Path(path) if path else default_checkpoint()
    tensors, header = load_checkpoint(path)
    model_class = header.get("model_class")
    if expect and model_class != expect:
        raise MobilestyleError(f"{path} holds a {model_class}, but a {expect} is needed here")
    config = _checked_header(path, header)
    model: MetaNetwork | TransformNet
    if model_class == "MetaNetwork":
        model = MetaNetwork(config)
    elif model_class == "TransformNet":
        model = TransformNet(config)
    else:
        raise MobilestyleError(f"checkpoint {path} holds an unknown model class {model_class!r}")
    state = {k: v.float() for k, v in prefixed(tensors, "model").items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise MobilestyleError(f"checkpoint {path} does not match its architecture ({str(exc).splitlines()[0][:100]})") from None
    if not all(torch.isfinite(v).all() for v in state.values()):
        raise MobilestyleError(f"checkpoint {path} holds NaN or infinite weights")
    return LoadedModel(model.eval(), header, Path(path))


def save_model(loaded: LoadedModel, target: str | Path, fp16: bool = True, note: str = "") -> Path:
    """Write a slim model file (weights only, fp16 by default): what ships in the package."""
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {f"model.{k}": v.to(dtype) for k, v in loaded.model.state_dict().items()}
    keep = ("method", "step", "net", "model_class", "options")
    header = {k: loaded.header[k] for k in keep if k in loaded.header}
    header.update(kind="model", dtype=str(dtype).removeprefix("torch."), style_size=loaded.style_size, note=note)
    return save_checkpoint(target, tensors, header)
