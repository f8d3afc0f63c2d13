"""The CPU recipe (--method shen-fast): per-sample styles, standardised statistics, cached data, teacher stage,
curriculum, exact resume."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, shared_path

from mobilestyle.checkpoint import load_checkpoint
from mobilestyle.meta import STATS_DIM, Z_CLIP, MetaNetwork
from mobilestyle.model_files import load_model, save_model
from mobilestyle.vgg import TAP_CHANNELS, TAPS, split_statistics


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fast_data")
    for kind, source, count in (("content", ("data", "train", "content", "bsds"), 8), ("style", ("data", "train", "style", "pacs"), 5)):
        folder = root / kind
        folder.mkdir()
        for path in sorted(shared_path(*source).iterdir())[:count]:
            shutil.copy(path, folder / path.name)
    return root / "content", root / "style"


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _train(run: Path, data: tuple[Path, Path], cache: Path, vgg: Path, steps: int, *extra: str) -> None:
    result = run_cli(
        "train",
        "--method",
        "shen-fast",
        "--content",
        str(data[0]),
        "--style",
        str(data[1]),
        "--out",
        str(run),
        "--steps",
        str(steps),
        "--batch-size",
        "2",
        "--image-size",
        "32",
        "--final-size",
        "48",
        "--final-steps",
        "2",
        *extra,
        "--data-cache",
        str(cache),
        "--vgg-weights",
        str(vgg),
        "--sample-every",
        "0",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr


def test_per_sample_styles_match_one_net_per_style() -> None:
    torch.manual_seed(0)
    meta = MetaNetwork(head_gain=1.0)
    stats = torch.rand(3, STATS_DIM) * 50
    content = torch.rand(3, 3, 32, 32) * 255
    together = meta.stylize_each(content, stats)
    for i in range(3):
        alone = meta.stylize(content[i : i + 1], meta.params(stats[i : i + 1]))
        assert torch.allclose(together[i], alone[0], atol=1e-3)
    assert (together[0] - together[1]).abs().mean() > 1.0  # different styles, different pictures from step 0


def test_statistics_normalisation_is_stored_and_old_models_still_load(tmp_path: Path) -> None:
    meta = MetaNetwork()
    styles = torch.rand(10, STATS_DIM) * 100
    meta.set_statistics_normalisation(styles)
    normalised = meta.normalize_statistics(styles)
    assert torch.allclose(normalised.mean(0), torch.zeros(STATS_DIM), atol=1e-4)
    assert torch.allclose(normalised.std(0), torch.ones(STATS_DIM), atol=1e-3)
    outlier = styles[:1] * 1e4  # far outside the training styles: clipped into their range
    assert meta.normalize_statistics(outlier).abs().max() == Z_CLIP
    reloaded = MetaNetwork()
    reloaded.load_state_dict(meta.state_dict())
    assert torch.equal(reloaded.stats_center, meta.stats_center)
    old = {k: v for k, v in meta.state_dict().items() if not k.startswith("stats_")}
    legacy = MetaNetwork()
    legacy.load_state_dict(old)  # a model saved before the buffers existed: log1p alone
    assert torch.equal(legacy.normalize_statistics(styles), torch.log1p(styles))
    assert torch.equal(legacy.normalize_statistics(outlier), torch.log1p(outlier))  # no clipping of raw log1p


def test_split_statistics_inverts_the_concatenation() -> None:
    stats = torch.arange(2 * STATS_DIM, dtype=torch.float32).view(2, STATS_DIM)
    parts = split_statistics(stats)
    assert list(parts) == list(TAPS)
    assert parts["relu1_2"][0].shape == (2, TAP_CHANNELS["relu1_2"])
    assert torch.equal(torch.cat([t for tap in TAPS for t in parts[tap]], dim=1), stats)


@pytest.mark.slow
def test_fast_recipe_trains_resumes_exactly_and_ships(tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    full, part = tmp_path / "full", tmp_path / "part"
    teacher = ("--teacher-steps", "3", "--teacher-pairs", "6", "--magenta-peers", str(shared_path("peers", "magenta")))
    _train(full, small_data, cache, vgg_weights, 10, *teacher)
    assert {p.name.split("-")[0] for p in cache.iterdir()} == {"content", "styles", "teacher"}  # prepared once, reused below
    # stopped at step 6 (before the full run's last --final-steps), then resumed to the same end
    _train(part, small_data, cache, vgg_weights, 6, *teacher, "--final-steps", "0")
    _train(part, small_data, cache, vgg_weights, 10, *teacher, "--resume")
    full_rows, part_rows = _rows(full), _rows(part)
    assert [r["step"] for r in part_rows] == [str(i) for i in range(1, 11)]
    for a, b in zip(full_rows, part_rows):
        assert float(a["total_loss"]) == pytest.approx(float(b["total_loss"]), rel=1e-4), (a, b)
    # the teacher stage has no TV term; the perceptual stage does
    assert float(full_rows[0]["tv_loss"]) == 0 and float(full_rows[5]["tv_loss"]) > 0

    tensors, meta = load_checkpoint(full)
    assert meta["method"] == "shen-fast" and meta["style_size"] == 256
    assert tensors["model.stats_scale"].min() > 0 and not torch.equal(tensors["model.stats_center"], torch.zeros(STATS_DIM))
    loaded = load_model(full, expect="MetaNetwork")
    assert torch.equal(loaded.model.stats_center, tensors["model.stats_center"])

    # the shipped form (fp16 slim file) starts a new run on a fresh machine: same weights, new optimizer
    shipped = save_model(loaded, tmp_path / "meta8.safetensors")
    _train(tmp_path / "init", small_data, cache, vgg_weights, 1, "--init", str(shipped), "--lr", "1e-12")
    restarted, _ = load_checkpoint(tmp_path / "init")
    assert torch.allclose(restarted["model.hidden.weight"], loaded.model.hidden.weight.half().float(), atol=1e-6)
    assert torch.equal(restarted["model.stats_center"], loaded.model.stats_center.half().float())


def test_style_variants_are_new_styles_computed_once(tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path) -> None:
    from mobilestyle.training.datasets import augmented_style_statistics, style_statistics_table
    from mobilestyle.vgg import VGGEncoder

    files = sorted(small_data[1].iterdir())[:2]
    vgg = VGGEncoder.from_weights(vgg_weights)
    originals = style_statistics_table(files, 64, vgg, tmp_path)
    variants = augmented_style_statistics(files, 64, 2, vgg, tmp_path)
    assert variants.shape == (4, STATS_DIM) and torch.isfinite(variants).all()
    assert not torch.allclose(variants[:2], originals, rtol=0.05)  # recoloured/cropped: different statistics
    cached = next(tmp_path.glob("style-variants-*.safetensors"))
    stamp = cached.stat().st_mtime_ns
    assert torch.equal(augmented_style_statistics(files, 64, 2, vgg, tmp_path), variants)  # same seed, same variants
    assert cached.stat().st_mtime_ns == stamp  # read from the cache, not rebuilt


def test_synthetic_styles_are_reproducible_varied_pictures(tmp_path: Path, vgg_weights: Path) -> None:
    from mobilestyle.training.datasets import synthetic_style_statistics
    from mobilestyle.training.synthetic_styles import FAMILIES, synthetic_style
    from mobilestyle.vgg import VGGEncoder

    pictures = [synthetic_style(index, seed=0, size=64) for index in range(len(FAMILIES))]  # one of each family
    for picture in pictures:
        assert picture.mode == "RGB" and min(picture.size) == 64 and max(picture.size) <= 96
    arrays = [np.asarray(p, dtype=np.float32) for p in pictures]
    assert all(a.std() > 5 for a in arrays)  # not blank
    assert np.array_equal(arrays[0], np.asarray(synthetic_style(0, seed=0, size=64), dtype=np.float32))  # reproducible
    assert not np.array_equal(arrays[0], np.asarray(synthetic_style(0, seed=1, size=64).resize(pictures[0].size), dtype=np.float32))

    vgg = VGGEncoder.from_weights(vgg_weights)
    stats = synthetic_style_statistics(len(FAMILIES), 64, vgg, tmp_path)
    assert stats.shape == (len(FAMILIES), STATS_DIM) and torch.isfinite(stats).all()
    assert torch.cdist(stats, stats).fill_diagonal_(float("inf")).min() > 1.0  # six different styles
    cached = next(tmp_path.glob("style-synthetic-*.safetensors"))
    stamp = cached.stat().st_mtime_ns
    assert torch.equal(synthetic_style_statistics(len(FAMILIES), 64, vgg, tmp_path), stats)
    assert cached.stat().st_mtime_ns == stamp  # read from the cache, not rebuilt


@pytest.mark.slow
def test_style_noise_and_synthetic_styles_train_reproducibly(tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    options = ("--final-steps", "0", "--synthetic-styles", "4")
    _train(tmp_path / "a", small_data, cache, vgg_weights, 3, *options, "--style-noise", "1.0")
    _train(tmp_path / "b", small_data, cache, vgg_weights, 3, *options, "--style-noise", "1.0")
    _train(tmp_path / "c", small_data, cache, vgg_weights, 3, *options)
    assert {p.name.split("-")[0] for p in cache.iterdir()} == {"content", "styles", "style"}  # + style-synthetic-*
    noisy, again, clean = (_rows(tmp_path / name) for name in "abc")
    assert [r["total_loss"] for r in noisy] == [r["total_loss"] for r in again]  # the noise is a function of the step
    assert noisy[0]["total_loss"] != clean[0]["total_loss"]  # and the meta network reads it
    assert load_checkpoint(tmp_path / "a")[1]["options"]["extra"]["synthetic_styles"] == 4


def test_structure_weight_reaches_the_objective_and_the_checkpoint(
    tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path
) -> None:
    cache = tmp_path / "cache"
    _train(tmp_path / "paper", small_data, cache, vgg_weights, 1, "--final-steps", "0")
    _train(tmp_path / "structure", small_data, cache, vgg_weights, 1, "--final-steps", "0", "--structure-weight", "2")
    paper, structure = _rows(tmp_path / "paper")[0], _rows(tmp_path / "structure")[0]
    assert float(structure["content_loss"]) > float(paper["content_loss"])  # same step, same batch: only the term differs
    assert structure["style_loss"] == paper["style_loss"]
    loss = load_checkpoint(tmp_path / "structure")[1]["options"]["loss"]
    assert loss["structure"] == 2.0 and loss["structure_layer"] == "relu2_2"


def test_style_balance_reweights_only_the_style_term(tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    _train(tmp_path / "paper", small_data, cache, vgg_weights, 1, "--final-steps", "0")
    _train(tmp_path / "balanced", small_data, cache, vgg_weights, 1, "--final-steps", "0", "--style-balance", "1")
    paper, balanced = _rows(tmp_path / "paper")[0], _rows(tmp_path / "balanced")[0]
    assert balanced["content_loss"] == paper["content_loss"]  # same step, same batch, same net: only the weights differ
    assert balanced["style_loss"] != paper["style_loss"]
    assert load_checkpoint(tmp_path / "balanced")[1]["options"]["extra"]["style_balance"] == 1.0


def test_per_style_strength_options_start_from_a_plain_model(tmp_path: Path, small_data: tuple[Path, Path], vgg_weights: Path) -> None:
    cache = tmp_path / "cache"
    _train(tmp_path / "plain", small_data, cache, vgg_weights, 1, "--final-steps", "0")
    shipped = save_model(load_model(tmp_path / "plain", expect="MetaNetwork"), tmp_path / "plain.safetensors")
    extra = ("--final-steps", "0", "--init", str(shipped), "--affine-norm", "--input-skip")
    _train(tmp_path / "strength", small_data, cache, vgg_weights, 2, *extra)
    loaded = load_model(tmp_path / "strength", expect="MetaNetwork")
    assert loaded.config.affine_norm and loaded.config.input_skip and isinstance(loaded.model, MetaNetwork)
    # the new heads trained away from the plain nets; the emitted net carries per-style norm scales and skip gains
    assert loaded.model.norm_heads[0].weight.abs().sum() > 0 and loaded.model.skip_head is not None
    net = loaded.model.emit(torch.rand(1, STATS_DIM) * 10)
    assert not torch.equal(net.norm1.weight, torch.ones_like(net.norm1.weight)) and net.skip.abs().sum() > 0
