"""MetaStyle bilevel training: a tiny real run on CPU, and the second-order gradient through the inner step."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import run_cli, shared_path
from torch.func import functional_call

from mobilestyle.checkpoint import load_checkpoint
from mobilestyle.images import center_crop_square, image_to_tensor, load_image, resize_short_side
from mobilestyle.losses import PerceptualLoss
from mobilestyle.model_files import load_model
from mobilestyle.training.metastyle import METASTYLE_LOSS, inner_adapt, metastyle_config, norm_parameter_names
from mobilestyle.transformer import TransformNet
from mobilestyle.vgg import VGGEncoder

TINY_STEPS = 16
TRAIN_STYLES = ("dog_pic_001.jpg", "dog_pic_002.jpg")  # PACS paintings; the eval styles (wave, ...) stay unseen


def _train_cli(run_dir: Path, styles: Path, content_dir: Path, vgg_weights: Path, steps: int, *extra: str) -> subprocess.CompletedProcess:
    return run_cli(
        "train",
        "--method",
        "metastyle",
        "--arch",
        "8",
        "--content",
        str(content_dir),
        "--style",
        str(styles),
        "--out",
        str(run_dir),
        "--steps",
        str(steps),
        "--batch-size",
        "4",
        "--image-size",
        "32",
        "--lr",
        "5e-4",
        "--styles-per-batch",
        "2",
        "--workers",
        "0",
        "--checkpoint-every",
        "0",
        "--no-progress",
        "--vgg-weights",
        str(vgg_weights),
        "--json",
        *extra,
    )


def tiny_metastyle_run(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, vgg_weights: Path) -> Path:
    """One tiny bilevel run (8-base net, 32 px, batch 4, 16 meta-iterations) per session, shared by test_metastyle and test_adapt.

    It runs 1 iteration, keeps that checkpoint as step1.safetensors, then resumes to TINY_STEPS.
    """
    base = tmp_path_factory.getbasetemp()
    run_dir, styles = base / "metastyle_tiny_run", base / "metastyle_tiny_styles"
    if (run_dir / "summary.json").is_file() and json.loads((run_dir / "summary.json").read_text())["step"] == TINY_STEPS:
        return run_dir
    styles.mkdir(exist_ok=True)
    for name in TRAIN_STYLES:
        shutil.copy(shared_path("data", "train", "style", "pacs", name), styles)
    first = _train_cli(run_dir, styles, content_dir, vgg_weights, 1, "--sample-every", "0")
    assert first.returncode == 0, first.stderr[-3000:]
    shutil.copy(run_dir / "checkpoint.safetensors", run_dir / "step1.safetensors")
    rest = _train_cli(run_dir, styles, content_dir, vgg_weights, TINY_STEPS, "--resume", "--sample-every", str(TINY_STEPS))
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert json.loads(rest.stdout)["steps_run"] == TINY_STEPS - 1
    return run_dir


@pytest.fixture(scope="module")
def meta_run(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, vgg_weights: Path) -> Path:
    return tiny_metastyle_run(tmp_path_factory, content_dir, vgg_weights)


def _meta_objective(net: TransformNet, vgg: VGGEncoder, inner_lr: float) -> float:
    """The outer loss after one inner SGD step, on fixed photos, averaged over the run's training styles."""
    loss = PerceptualLoss(vgg, METASTYLE_LOSS)
    photos = [shared_path("data", "eval", "content", name) for name in ("chicago.jpg", "bsds_100007.jpg", "lenna.jpg", "bsds_100039.jpg")]
    batch = torch.cat([image_to_tensor(center_crop_square(load_image(p), 32)) for p in photos])
    content, query = batch[:2], batch[2:]
    with torch.no_grad():
        content_features, query_features = vgg(content), vgg(query)
    net.train()
    params = dict(net.named_parameters())
    total = 0.0
    for name in TRAIN_STYLES:
        target = loss.style_of(image_to_tensor(resize_short_side(load_image(shared_path("data", "train", "style", "pacs", name)), 32)))
        fast, _ = inner_adapt(net, params, norm_parameter_names(net), content, content_features, target, loss, inner_lr, 1, False)
        with torch.no_grad():
            total += float(loss(functional_call(net, fast, (query,)), query, target, query_features)["total_loss"])
    return total / len(TRAIN_STYLES)


def test_tiny_bilevel_run_lowers_the_outer_loss(meta_run: Path, vgg_weights: Path) -> None:
    vgg = VGGEncoder.from_weights(vgg_weights)
    _, meta = load_checkpoint(meta_run / "checkpoint.safetensors")
    inner_lr = meta["bilevel"]["inner_lr"]
    before = _meta_objective(load_model(meta_run / "step1.safetensors", expect="TransformNet").model, vgg, inner_lr)
    after = _meta_objective(load_model(meta_run, expect="TransformNet").model, vgg, inner_lr)
    # 16 steps at 32 px are chaotic at lr 1e-3: the last-bit differences between CPUs (AVX2 / AVX-512 / AMX) and
    # thread counts grow into different trajectories (seed 0 ended at 0.81 of the first step's objective with one
    # thread and at 1.007 with two on the same AMX machine). At lr 5e-4 seeds 0-2 end at 0.73-0.77 with one thread
    # and with two, so the check is a clear fall with room for the hardware
    assert after < 0.95 * before, (before, after)
    with open(meta_run / "metrics.csv", newline="") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == list(range(1, TINY_STEPS + 1))  # resumed seamlessly
    summary = json.loads((meta_run / "summary.json").read_text())
    assert summary["step"] == TINY_STEPS and summary["inner_loss"] > 0
    assert (meta_run / "samples" / f"step_{TINY_STEPS:07d}.png").is_file()


def test_checkpoint_is_a_transform_net_initialization(meta_run: Path) -> None:
    _, meta = load_checkpoint(meta_run / "checkpoint.safetensors")
    assert meta["method"] == "metastyle" and meta["model_class"] == "TransformNet"
    assert meta["net"] == {"base": 8, "padding": "reflect", "upsample": "nearest", "affine_norm": True}
    assert meta["bilevel"] == {"inner_steps": 1, "inner_lr": 1e-8, "first_order": False, "styles_per_batch": 2, "inner_params": "norm"}
    assert meta["options"]["loss"]["style_kind"] == "gram" and meta["options"]["loss"]["content_layer"] == "relu2_2"
    net = load_model(meta_run, expect="TransformNet").model
    with torch.no_grad():
        out = net(torch.full((1, 3, 32, 32), 128.0))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


def _grads(loss: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(params.values()))])


def test_second_order_gradient_flows_through_the_inner_step(vgg_weights: Path) -> None:
    """d outer(θ - lr ∇inner(θ)) / dθ = g - lr · H_inner g̃ (g̃: g on the adapted weights); first order drops the H term."""
    torch.manual_seed(0)
    vgg = VGGEncoder.from_weights(vgg_weights)
    loss = PerceptualLoss(vgg, METASTYLE_LOSS)
    net = TransformNet(metastyle_config({"base": 8})).train()
    content, query, style = (torch.rand(1, 3, 16, 16) * 255 for _ in range(3))
    target = loss.style_of(style)
    with torch.no_grad():
        content_features, query_features = vgg(content), vgg(query)
    names, lr = norm_parameter_names(net), 1e-8

    def outer(create_graph: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
        fast, _ = inner_adapt(net, params, names, content, content_features, target, loss, lr, 1, create_graph)
        return loss(functional_call(net, fast, (query,)), query, target, query_features)["total_loss"], params, fast

    second_loss, params, fast = outer(True)
    second = _grads(second_loss, params)
    first_loss, first_params, _ = outer(False)
    first = _grads(first_loss, first_params)
    # g: the outer gradient at the adapted weights, taken as free variables
    adapted = {n: t.detach().requires_grad_(True) for n, t in fast.items()}
    g = _grads(loss(functional_call(net, adapted, (query,)), query, target, query_features)["total_loss"], adapted)
    torch.testing.assert_close(first, g, rtol=1e-4, atol=1e-3 * g.abs().max().item())
    # H_inner g̃ by double backward of the inner loss at θ
    inner_params = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    inner = loss(functional_call(net, inner_params, (content,)), content, target, content_features)["total_loss"]
    inner_grads = torch.autograd.grad(inner, [inner_params[n] for n in names], create_graph=True)
    g_by_name = dict(zip(adapted, torch.split(g, [t.numel() for t in adapted.values()])))
    dot = sum((ig * g_by_name[n].view_as(ig)).sum() for ig, n in zip(inner_grads, names))
    hessian_term = _grads(dot, inner_params)
    expected = g - lr * hessian_term
    assert (second - first).norm() > 1e-3 * first.norm(), "the inner step's second-order term is missing"
    assert ((second - expected).norm() / (second - first).norm()).item() < 1e-2
