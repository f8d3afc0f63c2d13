"""The perceptual objective's parts: the optional structure term (a second, shallower content term), per-sample style
distances and the --style-balance weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli

from mobilestyle.losses import (
    LossWeights,
    PerceptualLoss,
    balance_reference,
    balance_weights,
    content_distance,
    content_layers,
    style_distance,
    style_distance_each,
)
from mobilestyle.vgg import VGGEncoder


def _features(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {layer: torch.rand(2, 4, 6, 6, generator=generator) for layer in ("relu1_2", "relu2_2", "relu3_3")}


def test_structure_term_adds_a_weighted_mse_at_its_layer() -> None:
    out, photo = _features(0), _features(1)
    paper = LossWeights(content=2.0)
    assert content_layers(paper) == ("relu3_3",)
    assert torch.allclose(content_distance(paper, out, photo), 2.0 * F.mse_loss(out["relu3_3"], photo["relu3_3"]))
    for layer in ("relu1_2", "relu2_2"):
        weights = LossWeights(content=2.0, structure=3.0, structure_layer=layer)
        assert content_layers(weights) == ("relu3_3", layer)
        want = 2.0 * F.mse_loss(out["relu3_3"], photo["relu3_3"]) + 3.0 * F.mse_loss(out[layer], photo[layer])
        assert torch.allclose(content_distance(weights, out, photo), want)
    # stored with a run's options; older runs (without the keys) read back as the paper's objective
    assert LossWeights.from_dict(LossWeights(structure=3.0).to_dict()).structure == 3.0
    old = {k: v for k, v in LossWeights().to_dict().items() if not k.startswith("structure")}
    assert LossWeights.from_dict(old) == LossWeights()


def test_perceptual_loss_counts_the_structure_term_in_content(vgg_weights: Path) -> None:
    vgg = VGGEncoder.from_weights(vgg_weights)
    generator = torch.Generator().manual_seed(0)
    photo, output, style = (torch.rand(1, 3, 32, 32, generator=generator) * 255 for _ in range(3))
    paper = PerceptualLoss(vgg, LossWeights())
    structured = PerceptualLoss(vgg, LossWeights(structure=0.5, structure_layer="relu1_2"))
    target = paper.style_of(style)
    base, more = paper(output, photo, target), structured(output, photo, target)
    with torch.no_grad():
        shallow = F.mse_loss(vgg(output)["relu1_2"], vgg(photo)["relu1_2"])
    assert torch.allclose(more["content_loss"], base["content_loss"] + 0.5 * shallow, rtol=1e-5)
    assert torch.equal(more["style_loss"], base["style_loss"])
    assert torch.allclose(more["total_loss"], more["content_loss"] + more["style_loss"] + more["tv_loss"])


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_train_refuses_a_bad_structure_weight(tmp_path: Path, content_dir: Path, eval_style: Path, value: str) -> None:
    result = run_cli(
        "train", "--content", str(content_dir), "--style", str(eval_style), "--out", str(tmp_path / "run"), "--structure-weight", value
    )
    assert result.returncode == 2 and "--structure-weight must be a finite number >= 0" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_style_distance_each_is_the_per_sample_form_of_style_distance() -> None:
    generator = torch.Generator().manual_seed(2)
    output = {layer: (torch.rand(3, 4, generator=generator), torch.rand(3, 4, generator=generator)) for layer in ("a", "b")}
    target = {layer: (torch.rand(1, 4, generator=generator), torch.rand(1, 4, generator=generator)) for layer in ("a", "b")}
    each = style_distance_each(output, target)
    assert each.shape == (3,)
    for i in range(3):  # sample i alone, against the broadcast target
        alone = sum(F.mse_loss(got[i], want[0]) for layer in output for got, want in zip(output[layer], target[layer]))
        assert torch.allclose(each[i], alone)
    assert torch.allclose(style_distance(output, target), each.mean())


def test_balance_weights_follow_the_photo_to_style_distance() -> None:
    distances = torch.tensor([0.5, 1.0, 2.0, 100.0, 0.0])
    assert torch.equal(balance_weights(distances, 1.0, 0.0), torch.ones(5))  # gamma 0: the paper's objective
    weights = balance_weights(distances, 1.0, 0.5)
    assert torch.allclose(weights[:3], torch.tensor([0.5, 1.0, 2.0]).sqrt())  # near styles weigh less, far ones more
    assert torch.allclose(weights[3:], torch.tensor([8.0, 1 / 8]).sqrt())  # the ratio is clamped to [1/8, 8]
    assert torch.allclose(balance_weights(distances * 3, 3.0, 1.0), balance_weights(distances, 1.0, 1.0))
    # the reference makes the weights average 1 over the sample: the balance moves style pressure, it adds none
    sample = torch.tensor([1.0, 2.0, 3.0, 5.0])
    for gamma in (0.5, 1.0, 1.5):
        assert balance_weights(sample, balance_reference(sample, gamma), gamma).mean() == pytest.approx(1.0)
