"""The controls as the CLI uses them: which nets `export` converts, and how `stylize` runs a net.

Kept apart from mobilestyle/commands so the commands only add options and call ``control_nets`` /
``ControlledRunner``. Each control produces an ``nn.Module`` (a TransformNet, or ``KeepDetail`` / ``PreserveColors`` around one)
that the command hands to ``mobilestyle.export.export`` like any other net.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from mobilestyle.atomic import sha256_file
from mobilestyle.controls.colors import PreserveColors, preserve_colors_array
from mobilestyle.controls.detail import KeepDetail, keep_detail_array
from mobilestyle.controls.mixing import DEFAULT_SPACE, mix_nets, parse_mix
from mobilestyle.controls.noise import random_net
from mobilestyle.controls.refine import refine_net, refine_settings
from mobilestyle.controls.tiles import stylize_tiled
from mobilestyle.data import list_images, readable_images
from mobilestyle.errors import MobilestyleError
from mobilestyle.runners import Runner, TorchRunner
from mobilestyle.style_encoder import StyleNets
from mobilestyle.transformer import TransformNet


@dataclass
class ExportControls:
    mix: str | None = None
    mix_space: str = DEFAULT_SPACE
    random_seed: int | None = None
    temperature: float = 1.0
    preserve_colors: bool = False
    keep_detail: float = 0.0
    refine: int = 0
    content_dir: Path | None = None

    @property
    def active(self) -> bool:
        return self.mix is not None or self.random_seed is not None or self.wraps or self.refine > 0

    @property
    def wraps(self) -> bool:
        """The exported module is a wrapper around the style net (not a plain TransformNet)."""
        return self.preserve_colors or self.keep_detail > 0

    @property
    def one_net(self) -> bool:
        """--mix and --random make one net (one file name) whatever the number of style images."""
        return self.mix is not None or self.random_seed is not None

    def check(self, style_images: Sequence[Path]) -> None:
        """Usage errors, before any work."""
        if self.random_seed is not None and style_images:
            raise MobilestyleError("--random makes a style without a style image: give no STYLE_IMAGE with it")
        if self.random_seed is None and not style_images:
            raise MobilestyleError("give at least one STYLE_IMAGE (or --random SEED)")
        if self.mix is not None:
            parse_mix(self.mix, len(style_images))
        if self.refine and self.random_seed is not None:
            raise MobilestyleError("--refine trains towards a style image; a --random style has none")
        if self.refine and self.mix is not None:
            raise MobilestyleError("--refine works on one style image at a time, not with --mix")
        if self.temperature < 0:
            raise MobilestyleError("--temperature must be >= 0")


def default_name(style_images: Sequence[Path], controls: ExportControls) -> str | None:
    if controls.random_seed is not None:
        return f"random-{controls.random_seed}"
    if controls.mix is not None:
        return "mix-" + "-".join(p.stem for p in style_images)[:90]
    return None


@dataclass
class ControlNet:
    """One net to export: the file name, the module, its style image and that file's hash (if one), what the metadata records."""

    name: str
    net: nn.Module
    style: Image.Image | None = None
    style_sha256: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def control_nets(
    style_nets: StyleNets, style_images: Sequence[Path], pictures: Sequence[Image.Image], names: Sequence[str], controls: ExportControls
) -> Iterator[ControlNet]:
    """The nets to export, one at a time: one per style image, or the one --mix / --random net, with the controls applied.

    Without controls these are the meta network's nets (``style_nets.net``) with the style image's hash.
    """
    provenance = style_nets.provenance()
    files = _refine_photos(controls) if controls.refine else []
    settings = refine_settings(controls.refine, style_size=style_nets.style_size)
    for job in _base_nets(style_nets, style_images, pictures, names, controls):
        if controls.refine:
            assert isinstance(job.net, TransformNet)  # one style image per net (check() refuses --mix, --random)
            assert job.style is not None
            job.net = refine_net(job.net, job.style, files, style_nets.encoder.vgg, settings).net
            job.metadata["refine_steps"] = controls.refine
        if controls.keep_detail:  # inside PreserveColors: the luma it keeps carries the detail
            job.net = KeepDetail(job.net, controls.keep_detail)
        if controls.preserve_colors:
            job.net = PreserveColors(job.net)
        job.metadata = {**provenance, **job.metadata}
        yield job


def _base_nets(
    style_nets: StyleNets, style_images: Sequence[Path], pictures: Sequence[Image.Image], names: Sequence[str], controls: ExportControls
) -> Iterator[ControlNet]:
    if controls.random_seed is not None:
        net = random_net(style_nets.meta_network, controls.random_seed, temperature=controls.temperature)
        yield ControlNet(names[0], net, metadata={"random_seed": controls.random_seed, "temperature": controls.temperature})
    elif controls.mix is not None:
        weights = parse_mix(controls.mix, len(style_images))
        stats = torch.cat([style_nets.statistics(p) for p in pictures])
        net = mix_nets(style_nets.meta_network, stats, weights, controls.mix_space)
        mix = {"styles": [p.name for p in style_images], "weights": [round(w, 6) for w in weights], "space": controls.mix_space}
        yield ControlNet(names[0], net, metadata={"mix": mix})
    else:
        for path, picture, name in zip(style_images, pictures, names):
            yield ControlNet(name, style_nets.net(picture), picture, sha256_file(path))


def _refine_photos(controls: ExportControls) -> list[Path]:
    if controls.content_dir is None:
        raise MobilestyleError("--refine needs content photos (--content)")
    files, _ = readable_images(list_images(controls.content_dir))
    if not files:
        raise MobilestyleError(f"no readable photos in {controls.content_dir}")
    return files


class ControlledRunner:
    """A runner (mobilestyle.runners) with `stylize`'s controls: tiles (PyTorch nets only), the photo's detail and colours."""

    def __init__(
        self, runner: Runner, preserve_colors: bool = False, tile: int | None = None, exact_stats: bool = False, keep_detail: float = 0.0
    ) -> None:
        if tile is not None and not isinstance(runner, TorchRunner):
            raise MobilestyleError("--tile runs the PyTorch net: use it with --style, not --model")
        self.runner = runner
        self.preserve_colors = preserve_colors
        self.keep_detail = keep_detail
        self.tile = tile
        self.exact_stats = exact_stats

    def __getattr__(self, name: str) -> Any:  # sizes, format, path, ... of the runner inside
        return getattr(self.runner, name)

    def run(self, rgb: np.ndarray) -> np.ndarray:
        if self.tile is not None:
            assert isinstance(self.runner, TorchRunner)
            out = stylize_tiled(self.runner.module, np.asarray(rgb, np.float32), self.tile, exact=self.exact_stats)
        else:
            out = self.runner.run(rgb)
        if self.keep_detail:
            out = keep_detail_array(rgb, out, self.keep_detail)
        return preserve_colors_array(rgb, out) if self.preserve_colors else out
