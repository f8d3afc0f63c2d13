"""scripts/target_lines.py: issue 12's lines from a run's pairs against a reference evaluation's, and the plane plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import target_lines  # scripts/ is on pytest's pythonpath (pyproject.toml)


def pair(content: str, style: str, method: str, scale: float, ssim: float) -> dict:
    return {
        "content": content,
        "style": style,
        "method": method,
        "content_loss": 100.0 * scale,
        "style_meanstd": 200.0 * scale,
        "style_gram": 50.0 * scale,
        "total_loss": 300.0 * scale,
        "ssim": ssim,
    }


def test_ratios_are_pairwise_means_over_the_pairs_all_three_scored() -> None:
    magenta = {("a", "s"): pair("a", "s", "magenta", 1.0, 0.4), ("b", "s"): pair("b", "s", "magenta", 2.0, 0.4)}
    shipped = {key: pair(*key, "ours", 1.0, 0.3) for key in magenta}
    # ours: half of Magenta's losses on the first pair, the same on the second; a third pair no reference scored
    scored = ((("a", "s"), 0.5, 0.2), (("b", "s"), 2.0, 0.4), (("c", "s"), 9.0, 0.0))
    ours = {key: pair(*key, "ours", scale, ssim) for key, scale, ssim in scored}
    scores = target_lines.ratios(ours, magenta, shipped)
    assert scores["pairs"] == 2
    assert scores["content"] == pytest.approx(0.75) and scores["style"] == pytest.approx(0.75) and scores["gram"] == pytest.approx(0.75)
    assert scores["ssim"] == pytest.approx(0.3)
    assert scores["total"] == pytest.approx((0.5 + 2.0) / 2 - 1)
    assert target_lines.ratios({("c", "s"): ours[("c", "s")]}, magenta, shipped) is None
    assert "no pairs in common" in target_lines.line("x", None, None)


def test_cli_prints_each_run_and_plots_the_plane(tmp_path: Path, monkeypatch, capsys) -> None:
    reference = {"style_spread": {"magenta": 50.0}, "pairs": [pair("a", "s", "magenta", 1.0, 0.4), pair("a", "s", "ours", 1.0, 0.3)]}
    run = tmp_path / "fork" / "eval_33x10.json"
    run.parent.mkdir()
    run.write_text(json.dumps({"style_spread": {"ours": 25.0}, "pairs": [pair("a", "s", "ours", 0.5, 0.35)]}))
    (tmp_path / "reference.json").write_text(json.dumps(reference))
    # the Johnson nets scored pair (a, s) at 0.25x the reference; the fork's training-style pairs total 75 on average
    johnson = {"pairs": [pair("a", "s", "johnson", 0.25, 0.3), pair("b", "t", "johnson", 1.0, 0.3)]}
    (tmp_path / "johnson.json").write_text(json.dumps(johnson))
    (run.parent / "eval_training.json").write_text(
        json.dumps({"pairs": [pair("p", "q", "ours", 0.2, 0.3), pair("r", "q", "ours", 0.3, 0.3)]})
    )
    png = tmp_path / "plane.png"
    argv = ["target_lines.py", str(run), "--reference", str(tmp_path / "reference.json"), "--plot", str(png)]
    monkeypatch.setattr("sys.argv", [*argv, "--johnson", str(tmp_path / "johnson.json")])
    target_lines.main()
    out = capsys.readouterr().out
    assert out.startswith("fork ") and "content 0.500x" in out and "spread 0.50x" in out and "total vs shipped -50.0 %" in out
    assert "vs Johnson 2.00x (1 pairs)" in out and "held-out / training 2.00x (2 training pairs)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
