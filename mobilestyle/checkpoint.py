"""Checkpoints: one safetensors file holding tensors (model, optimizer, RNG) and a JSON header.

Written atomically (temp file + rename), so an interrupted save never leaves a half-written file.
``load_checkpoint`` turns every way a file can be wrong into one clear MobilestyleError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from mobilestyle import __version__
from mobilestyle.atomic import atomic_path
from mobilestyle.errors import MobilestyleError

FORMAT = "mobilestyle-checkpoint-1"


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    header = {"format": FORMAT, "mobilestyle_version": __version__, **meta}
    clean = {k: v.detach().contiguous().cpu().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata={"mobilestyle": json.dumps(header)})
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise MobilestyleError(f"checkpoint not found: {path}")
    if path.is_dir():
        candidate = path / "checkpoint.safetensors"
        if not candidate.is_file():
            raise MobilestyleError(f"{path} is a folder without checkpoint.safetensors")
        path = candidate
    _refuse_foreign(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get("mobilestyle")
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise MobilestyleError(f"checkpoint {path} is unreadable or corrupt ({str(exc).splitlines()[0][:120]})") from None
    if raw is None:
        raise MobilestyleError(f"{path} is a safetensors file but not a mobilestyle checkpoint (no header)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise MobilestyleError(f"checkpoint {path} has a corrupt header") from None
    if meta.get("format") != FORMAT:
        raise MobilestyleError(f"checkpoint {path} has unknown format {meta.get('format')!r}")
    return tensors, meta


# Leading bytes of files people pass by mistake; pickles are never loaded (they can run code).
_FOREIGN = (
    (b"PK\x03\x04", "a zip archive (a PyTorch .pth/.pt pickle?), not a safetensors checkpoint; pickles are never loaded"),
    (b"\x80", "a Python pickle (a PyTorch .pth/.pt file?), not a safetensors checkpoint; pickles are never loaded"),
    (b"\x89PNG", "a PNG picture, not a checkpoint"),
    (b"\xff\xd8\xff", "a JPEG picture, not a checkpoint"),
)


def _refuse_foreign(path: Path) -> None:
    """Name what a file is when it is plainly not safetensors (instead of safetensors' 'header too large')."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise MobilestyleError(f"checkpoint {path} is unreadable ({exc.strerror or exc})") from None
    if head[8:9] == b"{":  # safetensors: 8-byte header length, then the JSON header
        return
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise MobilestyleError(f"{path} is {what}")
    if head[4:8] == b"TFL3":
        raise MobilestyleError(f"{path} is a TFLite model, not a checkpoint (use it with stylize --model)")
    if len(head) < 8:
        raise MobilestyleError(f"checkpoint {path} is unreadable or corrupt ({len(head)} bytes)")


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix.`` with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (for safetensors) and JSON (param groups, scalars)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in prefixed(tensors, "optim").items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for name, value in info.get("scalars", {}).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
