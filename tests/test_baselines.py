"""Baselines: Gatys optimization (`mobilestyle optimize`), Johnson per-style training, the Magenta peer, shards."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from mobilestyle.errors import MobilestyleError


@pytest.fixture(scope="module")
def content_image(shared: Path) -> Path:
    return shared / "data" / "eval" / "content" / "bsds_100007.jpg"


def test_optimize_lowers_the_loss(tmp_path: Path, content_image: Path, eval_style: Path, vgg_weights: Path) -> None:
    out = tmp_path / "gatys.png"
    result = run_cli(
        "optimize",
        str(content_image),
        str(eval_style / "candy.jpg"),
        "--steps",
        "8",
        "--size",
        "48",
        "-o",
        str(out),
        "--json",
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["final"]["total_loss"] < 0.7 * summary["initial"]["total_loss"], summary
    assert summary["final"]["style_loss"] < summary["initial"]["style_loss"]
    with Image.open(out) as image:
        assert min(image.size) == 48 and image.mode == "RGB"


def test_optimize_bad_inputs_are_one_line(tmp_path: Path, content_image: Path, vgg_weights: Path) -> None:
    result = run_cli(
        "optimize",
        str(content_image),
        str(tmp_path / "missing.jpg"),
        "--steps",
        "1",
        "-o",
        str(tmp_path / "x.png"),
        "--vgg-weights",
        str(vgg_weights),
    )
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_optimize_image_noise_start_and_lbfgs(vgg_weights: Path) -> None:
    import torch

    from mobilestyle.baselines.gatys import optimize_image
    from mobilestyle.losses import LossWeights, PerceptualLoss
    from mobilestyle.vgg import VGGEncoder

    torch.manual_seed(0)
    loss = PerceptualLoss(VGGEncoder.from_weights(vgg_weights), LossWeights())
    content = torch.rand(1, 32, 32, 3).permute(0, 3, 1, 2) * 255  # a permuted view, as image_to_tensor returns
    target = loss.style_of(torch.rand(1, 3, 32, 32) * 128)
    for optimizer, init in (("adam", "noise"), ("lbfgs", "content")):
        result = optimize_image(loss, content, target, 4, init=init, optimizer=optimizer, snapshot_steps=[2])
        assert set(result.snapshots) == {2} and len(result.history) == 4
        assert result.history[-1]["total_loss"] < result.history[0]["total_loss"], (optimizer, result.history)
        assert float(result.image.min()) >= 0 and float(result.image.max()) <= 255


def test_johnson_trains_one_style_into_a_transformnet(tmp_path: Path, content_dir: Path, eval_style: Path, vgg_weights: Path) -> None:
    from mobilestyle.data import list_images
    from mobilestyle.model_files import load_model

    run = tmp_path / "johnson"
    result = run_cli(
        "train",
        "--method",
        "johnson",
        "--content",
        str(content_dir),
        "--style",
        str(eval_style),
        "--out",
        str(run),
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--image-size",
        "32",
        "--workers",
        "0",
        "--sample-every",
        "3",
        "--no-progress",
        "--json",
        "--vgg-weights",
        str(vgg_weights),
    )
    assert result.returncode == 0, result.stderr
    first_style = list_images(eval_style)[0]
    assert "trains one style" in result.stderr and first_style.name in result.stderr
    assert json.loads(result.stdout)["step"] == 3
    loaded = load_model(run / "checkpoint.safetensors", expect="TransformNet")
    assert loaded.header["method"] == "johnson" and loaded.header["style_name"] == first_style.stem
    assert loaded.config.base == 8
    assert (run / "samples" / "step_0000003.png").is_file()


def test_magenta_peer_stylizes_at_384(shared: Path, content_image: Path, eval_style: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    from mobilestyle.baselines.magenta import MagentaStylizer, find_magenta_dir
    from mobilestyle.images import load_image

    folder = find_magenta_dir(shared / "peers")
    assert folder == shared / "peers" / "magenta"
    stylizer = MagentaStylizer(folder, "int8")
    bottleneck = stylizer.style_bottleneck(load_image(eval_style / "candy.jpg"))
    assert bottleneck.shape == (1, 1, 1, 100)
    out = stylizer.stylize(load_image(content_image), bottleneck)
    assert out.shape == (384, 384, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255 and out.max() > 100 and out.std() > 10
    with pytest.raises(MobilestyleError, match="no Magenta models"):
        find_magenta_dir(shared / "data")


def test_shards_split_and_join(tmp_path: Path) -> None:
    from shards import join_parts, split_file

    source = tmp_path / "model.safetensors"
    source.write_bytes(np.random.default_rng(0).bytes(10_000))
    manifest = split_file(source, tmp_path / "parts", part_bytes=4096)
    parts = sorted((tmp_path / "parts").glob("model.safetensors.part*"))
    assert [p.stat().st_size for p in parts] == [4096, 4096, 1808]
    joined = join_parts(manifest, tmp_path / "joined.safetensors")
    assert joined.read_bytes() == source.read_bytes()
    parts[1].write_bytes(b"x" * 4096)
    with pytest.raises(MobilestyleError, match="damaged"):
        join_parts(manifest, tmp_path / "again.safetensors")
    assert not (tmp_path / "again.safetensors").exists()


def test_gpu_unpack_rebuilds_the_handed_back_model(tmp_path: Path) -> None:
    """What scripts/gpu_train.sh hands back (xz'd model in parts + logs.tar.gz holding the manifest) unpacks again."""
    import lzma
    import tarfile

    from click.testing import CliRunner
    from gpu_unpack import main as unpack
    from shards import split_file

    run, handed_back = tmp_path / "run", tmp_path / "out" / "sw50"
    run.mkdir()
    handed_back.mkdir(parents=True)
    model = np.random.default_rng(1).bytes(50_000)
    (run / "meta8.safetensors.xz").write_bytes(lzma.compress(model, preset=1))
    split_file(run / "meta8.safetensors.xz", run / "parts", part_bytes=20_000)
    for part in (run / "parts").glob("*.part*"):
        part.rename(handed_back / part.name)
    (run / "metrics.csv").write_text("step,total_loss\n1,2.0\n")
    with tarfile.open(handed_back / "logs.tar.gz", "w:gz") as logs:
        logs.add(run / "parts" / "meta8.safetensors.xz.manifest.json", "parts/meta8.safetensors.xz.manifest.json")
        logs.add(run / "metrics.csv", "metrics.csv")
    result = CliRunner().invoke(unpack, [str(handed_back), str(tmp_path / "dest")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dest" / "meta8.safetensors").read_bytes() == model
    assert (tmp_path / "dest" / "metrics.csv").read_text().startswith("step,")
    next(handed_back.glob("*.part001")).write_bytes(b"broken")
    result = CliRunner().invoke(unpack, [str(handed_back), str(tmp_path / "again")])
    assert result.exit_code != 0 and not (tmp_path / "again" / "meta8.safetensors").exists()
