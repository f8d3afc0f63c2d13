"""scripts/strength_frontier.py's oracle: per-style strengths chosen from measured curves (docs/training.md section 6)."""

from __future__ import annotations

import pytest
import strength_frontier  # scripts/ is on pytest's pythonpath (pyproject.toml)

# metrics per strength a: [content ratio, style ratio, Gram ratio, SSIM]
CURVES = {
    # near style: the photo costs little style, buys a lot of content
    "near.jpg": {"0.0": [1.6, 0.2, 0.3, 0.2], "0.1": [1.1, 0.3, 0.4, 0.3], "0.2": [0.7, 0.5, 0.6, 0.4]},
    # far style: the photo costs a lot of style for little content
    "far.jpg": {"0.0": [1.0, 0.6, 0.8, 0.2], "0.1": [0.9, 1.2, 1.5, 0.3], "0.2": [0.8, 1.8, 2.2, 0.4]},
}


def test_interpolation_is_linear_between_measured_strengths() -> None:
    fine, table = strength_frontier.interpolated(CURVES, points=5)
    assert fine == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert table["near.jpg"][1] == pytest.approx([1.35, 0.25, 0.35, 0.25])
    assert table["far.jpg"][4] == pytest.approx(CURVES["far.jpg"]["0.2"])


def test_the_oracle_gives_the_photo_to_the_near_style_only() -> None:
    fine, table = strength_frontier.interpolated(CURVES, points=5)
    chosen = strength_frontier.oracle_choice(table, price=1.0)
    # near: content + style falls from 1.8 to 1.2 at a = 0.2; far: rises from 1.6
    assert fine[chosen["near.jpg"]] == pytest.approx(0.2)
    assert fine[chosen["far.jpg"]] == pytest.approx(0.0)
    # a high enough price on style keeps both styles at full strength
    assert set(strength_frontier.oracle_choice(table, price=10.0).values()) == {0}
