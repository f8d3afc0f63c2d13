"""`mobilestyle export`: two eval styles to verified ONNX / TFLite / CoreML, metadata, patched == fresh."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

STYLES = ("la_muse", "starry_night")


def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One template cache for the whole test session (shared with test_stylize.py)."""
    return tmp_path_factory.getbasetemp() / "graph_cache"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_checkpoint, eval_style, vgg_weights):
    out = tmp_path_factory.mktemp("exported")
    styles = [str(eval_style / f"{name}.jpg") for name in STYLES]
    result = run_cli(
        "export",
        *styles,
        "--format",
        "all",
        "--size",
        "256",
        "--json",
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(out),
        env={"MOBILESTYLE_CACHE": str(graph_cache(tmp_path_factory))},
    )
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def test_export_writes_verified_files_for_every_format(exported):
    out, records = exported
    assert sorted(Path(r["path"]).name for r in records) == sorted(f"{s}{x}" for s in STYLES for x in (".onnx", ".tflite", ".mlpackage"))
    for record in records:
        assert record["verified"] is True
        assert Path(record["path"]).exists() and record["bytes"] > 0
        if record["format"] == "coreml":
            assert record["max_abs_error"] is None and "macOS" in record["verification"]
        else:
            assert record["max_abs_error"] is not None and np.isfinite(record["max_abs_error"])
        if record["format"] == "tflite":
            assert record["bytes"] < 600 * 1024
            assert record["precision"] == "fp16" and record["max_abs_error"] <= 1.0
        if record["format"] == "onnx":
            assert record["precision"] == "fp32" and record["max_abs_error"] <= 1e-3
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_metadata_in_every_file(exported):
    from mobilestyle.export import read_metadata

    _, records = exported
    for record in records:
        meta = read_metadata(record["path"])
        assert meta["style_name"] == Path(record["path"]).stem
        assert meta["style_sha256"] == record["style_sha256"] and len(meta["style_sha256"]) == 64
        assert meta["format"] == record["format"] and meta["precision"] == record["precision"]
        assert meta["value_range"] == [0, 255] and meta["arch"]["base"] == 8
        assert meta["layout"] == {"onnx": "NCHW", "tflite": "NHWC", "coreml": "image"}[record["format"]]
        assert meta["sizes"] == ([[256, 256]] if record["format"] == "tflite" else "dynamic")


def test_runtimes_match_pytorch(exported, la_muse_net):
    from mobilestyle.export import open_model
    from mobilestyle.export.verify import TorchReference, parity_image
    from mobilestyle.runners import TorchRunner

    out, _ = exported
    net = la_muse_net
    image = parity_image(256, 256, seed=3)
    expected = TorchRunner(net).run(image)
    # ONNX Runtime against the exact function (PyTorch in float64): PyTorch fp32 itself is up to 1.2e-3 off it on some
    # CPUs (an AMX Xeon: 1.1e-3 here, where onnxruntime is 5e-4 off), so fp32 against fp32 would measure PyTorch's error
    exact = TorchReference(net).exact().run(image)
    assert np.abs(open_model(out / "la_muse.onnx").run(image) - exact).max() <= 1e-3
    assert np.abs(open_model(out / "la_muse.tflite").run(image) - expected).max() <= 1.0
    from mobilestyle.errors import MobilestyleError

    with pytest.raises(MobilestyleError, match="256x256"):
        open_model(out / "la_muse.tflite").run(parity_image(128, 128))
    with pytest.raises(MobilestyleError, match="macOS"):
        open_model(out / "la_muse.mlpackage")


def test_patched_template_equals_fresh_conversion(exported, tmp_path_factory):
    """Weight patching into the cached conversion gives the same model as converting from scratch."""
    from mobilestyle.export import FORMATS
    from mobilestyle.export.api import model_files
    from mobilestyle.export.coreml_format import WEIGHT_FILE
    from mobilestyle.export.graph import export_graph
    from mobilestyle.export.onnx_format import OnnxRunner
    from mobilestyle.export.templates import TemplateCache
    from mobilestyle.export.tflite_format import TfliteRunner
    from mobilestyle.export.verify import parity_image
    from mobilestyle.transformer import TransformNet

    torch.manual_seed(5)
    net = TransformNet().eval()
    graph = export_graph(net)
    cache = TemplateCache(graph_cache(tmp_path_factory))
    meta = {"test": True}
    tmp = tmp_path_factory.mktemp("fresh")
    image = parity_image(256, 256)
    outputs = {}
    for how in ("patched", "fresh"):
        fresh = how == "fresh"
        files, label = model_files(FORMATS["onnx"], graph, [256], "fp32", meta, cache=cache, fresh=fresh)
        assert label.startswith(how)
        (tmp / f"{how}.onnx").write_bytes(files["model.onnx"])
        outputs[how] = [OnnxRunner(tmp / f"{how}.onnx").run(image)]
        for precision in ("fp32", "fp16"):
            files, label = model_files(FORMATS["tflite"], graph, [256], precision, meta, cache=cache, fresh=fresh)
            assert label.startswith(how)
            outputs[how].append(TfliteRunner(None, content=files["model.tflite"]).run(image))
        files, label = model_files(FORMATS["coreml"], graph, [256], "fp16", meta, cache=cache, fresh=fresh)
        assert label.startswith(how)
        outputs[how].append(np.frombuffer(files[WEIGHT_FILE], np.uint8))
    for patched, fresh in zip(outputs["patched"][:3], outputs["fresh"][:3]):
        assert np.abs(patched - fresh).max() <= 1e-5
    assert np.array_equal(outputs["patched"][3], outputs["fresh"][3]), "CoreML weight.bin differs"


def test_missing_backend_is_one_clear_line(tmp_path, tiny_checkpoint, eval_style):
    code = "import sys; sys.modules['litert_torch'] = None; from mobilestyle.cli import main; main()"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "export",
            str(eval_style / "la_muse.jpg"),
            "--format",
            "tflite",
            "--checkpoint",
            str(tiny_checkpoint),
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "error: litert-torch is not installed: pip install 'mobilestyle[tflite]' (or pip install litert-torch)"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def la_muse_net(tiny_checkpoint, eval_style, vgg_weights):
    from mobilestyle.images import load_image
    from mobilestyle.model_files import load_model
    from mobilestyle.style_encoder import StyleEncoder, emit_style_net

    loaded = load_model(tiny_checkpoint)
    return emit_style_net(loaded.model, StyleEncoder.load(vgg_weights), load_image(eval_style / "la_muse.jpg"), loaded.style_size)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_tflite_precisions_meet_accuracy_limits(exported, la_muse_net, tmp_path, tmp_path_factory, precision):
    from mobilestyle.export import export, read_metadata
    from mobilestyle.export.templates import TemplateCache
    from mobilestyle.export.verify import TorchReference, fp32_limit_vs_exact

    (record,) = export(
        la_muse_net,
        name="la_muse",
        formats=["tflite"],
        sizes=[256],
        precision=precision,
        out_dir=tmp_path,
        cache=TemplateCache(graph_cache(tmp_path_factory)),
    )
    assert read_metadata(record.path)["precision"] == precision
    if precision == "fp32":
        # export's fp32 rule, recomputed here: 1e-3 against PyTorch fp32, else against float64 within 1e-3 or
        # OWN_ERROR_FACTOR x PyTorch fp32's own error (LiteRT fp32 was 1.75e-3 from float64 on an AMX Xeon, PyTorch 1.2e-3)
        reference = TorchReference(la_muse_net)
        limit = fp32_limit_vs_exact(reference, [(256, 256)])
        assert record.max_abs_error <= 1e-3 or ("float64" in record.verification and record.max_abs_error <= limit), record
    else:
        assert record.psnr_db >= 30.0 and record.bytes < 300 * 1024


def test_fp16_guard_rescales_norm_inputs(la_muse_net):
    """The meta network's weights push activations past fp16's square range; the rescaled net keeps its function."""
    from mobilestyle.errors import MobilestyleError
    from mobilestyle.export.rescale import normalize_norm_inputs
    from mobilestyle.export.verify import check_fp16_guard, parity
    from mobilestyle.runners import TorchRunner

    rescaled = normalize_norm_inputs(la_muse_net)
    assert "x²" in check_fp16_guard(rescaled)
    assert parity(TorchRunner(rescaled), TorchRunner(la_muse_net), [(256, 256)]).max_abs_error <= 0.05
    with pytest.raises(MobilestyleError, match="fp16 guard"):
        big = normalize_norm_inputs(la_muse_net, channel_norm=1e4)
        check_fp16_guard(big)


def test_fp16_limit_holds_the_tail_not_single_pixels():
    """fp16 files: PSNR, the 99.99th percentile of the error and a cap on single values; large sides have rare
    outliers above the tail limit (9.3 grey levels on one pixel of a 1024² candy net, PSNR 60.7 dB) that must pass."""
    import numpy as np

    from mobilestyle.errors import MobilestyleError
    from mobilestyle.export.verify import Parity, parity

    class Fixed:  # a runner that returns a given picture
        format, path = "fixed", None

        def __init__(self, out: np.ndarray) -> None:
            self.out = out

        def run(self, rgb: np.ndarray) -> np.ndarray:
            return self.out

    expected = np.full((256, 256, 3), 100.0, np.float32)
    rare = expected.copy()
    rare[0, 0, 0] += 9.0  # one value in 196,608: an fp16 outlier
    result = parity(Fixed(rare), Fixed(expected), [(256, 256)])
    assert result.max_abs_error == 9.0 and result.tail_abs_error < 1.0
    result.check("fp16", "rare outlier")
    broad = expected + np.where(np.arange(256)[:, None, None] % 50 == 0, 7.0, 0.0).astype(np.float32)  # 6 rows off by 7
    with pytest.raises(MobilestyleError, match="99.99th percentile"):
        parity(Fixed(broad), Fixed(expected), [(256, 256)]).check("fp16", "broad error")
    with pytest.raises(MobilestyleError, match="max abs error 40"):
        Parity(max_abs_error=40.0, psnr_db=70.0, finite=True, tail_abs_error=1.0).check("fp16", "one wild value")
    with pytest.raises(MobilestyleError, match="PSNR"):
        Parity(max_abs_error=5.0, psnr_db=45.0, finite=True, tail_abs_error=5.0).check("fp16", "noisy")
    with pytest.raises(MobilestyleError, match="max abs error 9"):
        result.check("fp32", "fp32 keeps its max-abs limit")


def test_failed_verification_leaves_no_file(exported, la_muse_net, tmp_path, tmp_path_factory, monkeypatch):
    from mobilestyle.errors import MobilestyleError
    from mobilestyle.export import api, verify
    from mobilestyle.export.templates import TemplateCache

    monkeypatch.setattr(verify, "MAX_ABS_FP32", -1.0)
    monkeypatch.setattr(verify, "OWN_ERROR_FACTOR", -1.0)
    with pytest.raises(MobilestyleError, match="verification failed"):
        api.export(
            la_muse_net,
            name="la_muse",
            formats=["onnx"],
            sizes=[256],
            precision="fp32",
            out_dir=tmp_path,
            cache=TemplateCache(graph_cache(tmp_path_factory)),
        )
    assert list(tmp_path.iterdir()) == []


def test_layout_recovers_permutations_and_folded_scales():
    """What converters do to weights: transposes (permutations) and folded constants (value = 127.5 * w)."""
    from mobilestyle.export.layout import INDEX_BASE, LayoutError, Region, locate

    sizes = [6, 4]
    template = (INDEX_BASE + np.arange(10)).astype(np.float32)
    permuted = template[:6][[3, 0, 5, 1, 4, 2]]
    folded = (template[6:][::-1] * np.float32(127.5)).astype(np.float32)
    data = b"HEAD" + permuted.tobytes() + np.float32([127.5, 1.0]).tobytes() + folded.tobytes()
    regions = [Region("f", 4, permuted), Region("f", 4 + 24, np.float32([127.5, 1.0])), Region("f", 4 + 32, folded)]
    layout = locate(regions, sizes)
    weights = np.random.default_rng(0).normal(size=10).astype(np.float32)
    patched = layout.patch({"f": data}, weights)["f"]
    assert patched[:4] == b"HEAD" and patched[28:36] == data[28:36]
    assert np.array_equal(np.frombuffer(patched, np.float32, 6, 4), weights[:6][[3, 0, 5, 1, 4, 2]])
    assert np.array_equal(np.frombuffer(patched, np.float32, 4, 36), weights[6:][::-1] * np.float32(127.5))
    with pytest.raises(LayoutError, match="not found"):
        locate(regions[:2], sizes)


def test_template_cache_keys_every_architecture_apart(tmp_path):
    """Zero, reflect and prepad 8-base nets hold tensors of equal shapes: each still gets its own cached conversion."""
    from mobilestyle.export import export
    from mobilestyle.export.graph import export_graph
    from mobilestyle.export.templates import TemplateCache, template_key
    from mobilestyle.transformer import NetConfig, TransformNet

    torch.manual_seed(0)
    nets = {padding: TransformNet(NetConfig(8, padding)).eval() for padding in ("zero", "reflect", "prepad")}
    keys = {template_key("onnx", export_graph(net), 3, {}, {}) for net in nets.values()}
    keys.add(template_key("onnx", export_graph(nets["zero"], static_shapes=True), 3, {}, {}))
    assert len(keys) == 4
    cache = TemplateCache(tmp_path / "cache")
    for padding, net in nets.items():  # one cache, one after the other: each verified against its own net
        (record,) = export(net, name=padding, formats=["onnx"], sizes=[64], precision="fp32", out_dir=tmp_path / padding, cache=cache)
        assert record.max_abs_error <= 1e-3


def test_first_conversion_is_announced_only_at_a_terminal(tmp_path, monkeypatch):
    """A person at a terminal learns why the first export of a kind takes half a minute; scripts' stderr stays empty."""
    import io

    from mobilestyle.export.layout import LayoutError
    from mobilestyle.export.templates import TemplateCache

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def build():
        raise LayoutError("no mapping")  # the cache remembers None: no conversion needed for this check

    for stream, expected in ((Terminal(), 1), (io.StringIO(), 0)):
        monkeypatch.setattr(sys, "stderr", stream)
        cache = TemplateCache(tmp_path / "cache")
        assert cache.get("k", build, "tflite fp16 256px") is None
        assert cache.get("k", build, "tflite fp16 256px") is None  # remembered: not announced again
        lines = [line for line in stream.getvalue().splitlines() if line.startswith("converting")]
        assert len(lines) == expected
        if expected:
            assert "tflite fp16 256px" in lines[0] and str(tmp_path / "cache") in lines[0]


def test_wide_net_fp32_limit_follows_pytorch_own_error(tmp_path, tmp_path_factory):
    """A 16-base net sits near 1e-3 in fp32 arithmetic itself: its fp32 .tflite is held to 1e-3 or a multiple of PyTorch's own error."""
    from mobilestyle.export import export
    from mobilestyle.export.templates import TemplateCache
    from mobilestyle.export.verify import TorchReference, fp32_limit_vs_exact
    from mobilestyle.transformer import NetConfig, TransformNet

    torch.manual_seed(0)
    net = TransformNet(NetConfig(16, "zero", "nearest", True)).eval()
    with torch.no_grad():
        for module in net.modules():
            if getattr(module, "affine", False):
                module.weight.normal_(1.0, 0.3)
                module.bias.normal_(0.0, 0.3)
    reference = TorchReference(net)
    limit = fp32_limit_vs_exact(reference, [(256, 256)])
    assert 1e-3 <= limit <= 6e-3
    (record,) = export(
        net,
        name="wide",
        formats=["tflite"],
        sizes=[256],
        precision="fp32",
        out_dir=tmp_path,
        cache=TemplateCache(graph_cache(tmp_path_factory)),
    )
    assert record.max_abs_error <= limit
    assert record.max_abs_error <= 1e-3 or "own error" in record.verification


def test_fp32_rule_measures_pytorch_in_both_layouts_and_still_catches_a_wrong_weight(la_muse_net):
    """PyTorch fp32's own error is the worse of its contiguous and channels-last kernels (one layout is one sample of
    fp32's rounding: either was the worse, by up to 6x); PyTorch passes the rule in either layout, and the limit stays
    far below what the first conv's largest weight 0.1 % off or fp16-rounded weights do to the output (docs/export.md)."""
    from mobilestyle.errors import MobilestyleError
    from mobilestyle.export.verify import (
        MAX_ABS_FP32,
        OWN_ERROR_FACTOR,
        TorchReference,
        fp32_limit_vs_exact,
        parity_image,
        pytorch_fp32_error,
        verify_parity,
    )

    shapes = [(64, 64), (256, 256)]
    reference = TorchReference(la_muse_net)
    exact = reference.exact()
    per_layout = [
        max(float(np.abs(layout.run(parity_image(h, w)) - exact.run(parity_image(h, w))).max()) for h, w in shapes)
        for layout in (reference, reference.channels_last())
    ]
    assert all(0 < error < 5e-3 for error in per_layout)
    assert pytorch_fp32_error(reference, shapes) == max(per_layout)
    limit = fp32_limit_vs_exact(reference, shapes)
    assert limit == max(MAX_ABS_FP32, OWN_ERROR_FACTOR * max(per_layout)) and limit < 1e-2
    how, _ = verify_parity(reference.channels_last(), reference, shapes, "fp32", "PyTorch channels-last", "PyTorch")
    assert how.startswith("PyTorch vs PyTorch")

    off_by_a_little, half_weights = copy.deepcopy(la_muse_net), copy.deepcopy(la_muse_net)
    with torch.no_grad():
        first_conv = next(p for p in off_by_a_little.parameters() if p.dim() == 4).view(-1)
        first_conv[first_conv.abs().argmax()] *= 1.001
        for parameter in half_weights.parameters():
            parameter.copy_(parameter.half().float())
    for broken in (off_by_a_little, half_weights):
        with pytest.raises(MobilestyleError, match=r"verification failed: max abs error .* \(fp32\)"):
            verify_parity(TorchReference(broken), reference, shapes, "fp32", "broken", "PyTorch")


def test_any_image_module_exports_through_the_same_stage(tmp_path, tmp_path_factory):
    """export() takes any nn.Module with the TransformNet interface (a control wrapping a net): converted as it is, verified."""
    from torch import nn

    from mobilestyle.export import export, read_metadata
    from mobilestyle.export.templates import TemplateCache
    from mobilestyle.transformer import TransformNet

    class HalfStrength(nn.Module):  # what a strength / blend control could hand the export stage
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, rgb: torch.Tensor) -> torch.Tensor:
            return 0.5 * self.net(rgb) + 0.5 * rgb

    torch.manual_seed(0)
    (record,) = export(
        HalfStrength(TransformNet().eval()),
        name="half",
        formats=["onnx"],
        sizes=[64],
        precision="fp32",
        out_dir=tmp_path,
        cache=TemplateCache(graph_cache(tmp_path_factory)),
    )
    assert record.verified and record.max_abs_error <= 1e-3
    assert read_metadata(record.path)["arch"] == {"module": "HalfStrength"}
