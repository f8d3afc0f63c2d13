"""The browser demo end to end in headless Chromium (Debian's chromium driven by playwright-core, android_demo/web/e2e.mjs).

The page loads a bundled style, a photo is uploaded through its file input, and the page's own centre crop and
model output are read back: the crop must equal Python's `center_crop_square` byte for byte, and the output must
match the Python runtime on the same input (onnxruntime for .onnx, the LiteRT interpreter for .tflite). The picture
shown with "keep the photo's colours" on must be `preserve_colors_array` of the same output; with "keep detail" at 0.5
`keep_detail_array` of it (then `preserve_colors_array` with the colours on), and at 0 the plain picture.
Latencies (WASM, 1 and 2 threads) are printed, not asserted; the screenshot lands in $MOBILESTYLE_ARTIFACTS
(default: the test's temp folder).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from test_bundle import DEMO_APP, MIX, demo_models, mixed_bundle  # noqa: F401  (fixtures)

from mobilestyle.controls.colors import preserve_colors_array
from mobilestyle.controls.detail import keep_detail_array
from mobilestyle.controls.tiles import stylize_per_tile
from mobilestyle.export import open_model
from mobilestyle.export.norm_stats import NormStatsRunner, stylize_whole_photo
from mobilestyle.images import center_crop_square, load_image

WEB = DEMO_APP / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SIDE = 256
MAX_ABS_DIFF = 0.05  # on 0..255: WASM and native kernels sum in different orders


def require_browser_stack() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: run .ci/install-demo-tools.sh")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (run .ci/install-demo-tools.sh)")
    for package in ("onnxruntime-web", "@litertjs/core", "playwright-core"):
        if not (WEB / "node_modules" / package / "package.json").is_file():
            pytest.skip(f"npm package {package} missing: (cd android_demo/web && npm ci)")
    return node


@pytest.fixture(scope="module")
def browser_run(demo_models: dict[str, Path], shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # noqa: F811
    node = require_browser_stack()
    root = tmp_path_factory.mktemp("web_demo")
    result = run_cli("bundle", str(demo_models["onnx"]), str(demo_models["tflite"]), "--no-app", "--web", str(root), "--no-progress")
    assert result.returncode == 0, result.stderr
    photo = root / "photo.png"  # PNG: browsers and PIL decode it to the same bytes (JPEG decoders may differ)
    load_image(shared / "data" / "eval" / "content" / "golden_gate.jpg").save(photo)
    out = root / "e2e"
    command = [
        node,
        "e2e.mjs",
        "--models",
        str(root / "models"),
        "--photo",
        str(photo),
        "--out",
        str(out),
        "--style",
        "alpha",
        "--runtimes",
        "onnx,tflite",
        "--threads",
        "1,2",
        "--runs",
        "5",
        "--size",
        str(SIDE),
        "--chromium",
        str(CHROMIUM),
    ]
    run = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=300)
    summary = json.loads((out / "result.json").read_text()) if (out / "result.json").is_file() else {}
    assert run.returncode == 0, (
        run.stdout
        + run.stderr
        + json.dumps([{k: r.get(k) for k in ("runtime", "threads", "error", "logs")} for r in summary.get("results", [])])
    )
    artifacts = Path(os.environ.get("MOBILESTYLE_ARTIFACTS", root / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "screenshot.png", artifacts / "web_demo.png")
    summary.update(photo=photo, models=root / "models", screenshot=artifacts / "web_demo.png")
    return summary


def decode(record: dict) -> tuple[np.ndarray, np.ndarray]:
    shape = (record.get("height") or SIDE, record.get("width") or SIDE, 3)
    pixels = np.frombuffer(base64.b64decode(record["input_rgb_b64"]), np.uint8).reshape(shape)
    output = np.frombuffer(base64.b64decode(record["output_nhwc_f32_b64"]), np.float32).reshape(shape)
    return pixels, output


def check_kept_colors(record: dict, page_input: np.ndarray, page_output: np.ndarray) -> None:
    """The page's "keep the photo's colours" picture (strength 100%) = Python's formula on the page's own output."""
    shown = np.frombuffer(base64.b64decode(record["kept_colors_rgb_b64"]), np.uint8).reshape(page_input.shape).astype(np.int16)
    expected = np.rint(preserve_colors_array(page_input, page_output)).astype(np.int16)
    assert int(np.abs(shown - expected).max()) <= 1, "keep the photo's colours: the page differs from Python"  # rounding at .5


def check_kept_detail(record: dict, page_input: np.ndarray, page_output: np.ndarray) -> None:
    """The page's "keep detail" pictures (strength 100%): Python's KeepDetail on the page's own output, alone and then
    with the colours kept (detail first, as the CLI nests them); the slider back at 0 gives the plain picture back."""

    def shown(key: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(record[key]), np.uint8).reshape(page_input.shape).astype(np.int16)

    amount = record["keep_detail"]
    assert amount == 0.5 and record["detail_colors_label"] == "0.50" and record["detail_off_label"] == "off"
    detailed = keep_detail_array(page_input, page_output, amount)
    plain = shown("shown_rgb_b64")
    assert np.array_equal(plain, np.clip(np.rint(page_output), 0, 255).astype(np.int16)), "the plain picture is not the output"
    kept = shown("kept_detail_rgb_b64")
    assert int(np.abs(kept - np.rint(detailed)).max()) <= 1, "keep detail: the page differs from Python"  # rounding at .5
    both = shown("detail_colors_rgb_b64")
    assert int(np.abs(both - np.rint(preserve_colors_array(page_input, detailed))).max()) <= 1, "keep detail + colours differ"
    assert float(np.abs(kept - plain).mean()) > 1 and int(np.abs(kept - plain).max()) > 10, "keep detail changed nothing"
    assert np.array_equal(shown("detail_off_rgb_b64"), plain), "keep detail at 0 must leave the picture unchanged"


def python_latency_ms(runner, image: np.ndarray, runs: int = 5) -> float:
    runner.run(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.run(image)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def test_page_matches_python_runtimes(browser_run: dict) -> None:
    expected_input = np.asarray(center_crop_square(load_image(browser_run["photo"]), SIDE))
    models = browser_run["models"]
    python_runners = {fmt: open_model(models / f"alpha.{fmt}", threads=1) for fmt in ("onnx", "tflite")}
    references = {fmt: runner.run(expected_input.astype(np.float32)) for fmt, runner in python_runners.items()}
    rows = []
    for record in browser_run["results"]:
        fmt, threads = record["runtime"], record["threads"]
        assert record["ok"] and record["side"] == SIDE, record.get("error")
        assert record["cross_origin_isolated"] is True  # COOP/COEP served: WASM threads are real
        page_input, page_output = decode(record)
        assert np.array_equal(page_input, expected_input), f"{fmt}: the page's centre crop differs from Python's"
        diff = float(np.abs(page_output - references[fmt]).max())
        assert diff <= MAX_ABS_DIFF, f"{fmt} x{threads}: page output differs from Python by {diff}"
        check_kept_colors(record, page_input, page_output)
        check_kept_detail(record, page_input, page_output)
        rows.append(
            f"{record['benchmark']['label']:<45} median {record['benchmark']['median_ms']:7.1f} ms   max|diff| vs Python {diff:.4f}"
        )
    for threads in (1, 2):
        runner = open_model(models / "alpha.onnx", threads=threads)
        latency = python_latency_ms(runner, expected_input.astype(np.float32))
        rows.append(f"{'onnxruntime (Python) ' + str(threads) + ' thread(s)':<45} median {latency:7.1f} ms")
    print(f"\n{browser_run['chromium']} at {SIDE}x{SIDE}:\n" + "\n".join(rows) + f"\nscreenshot: {browser_run['screenshot']}")


def test_page_pixel_code_matches_python_fixtures() -> None:
    """The page's crop, rounding and blend (src/*.js) on the golden fixtures the Java core is tested with."""
    node = require_browser_stack()
    script = """
      import { readFileSync } from 'node:fs';
      import { centerCropSquare } from './src/pil-resize.js';
      import { blend, tensorToRgb } from './src/pixels.js';
      const load = (name) => JSON.parse(readFileSync(`${process.argv[1]}/${name}`, 'utf8'));
      const rgb = (argb) => Uint8Array.from(argb.flatMap((p) => [(p >> 16) & 255, (p >> 8) & 255, p & 255]));
      const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
      const pre = load('preprocess.json'), post = load('postprocess.json'), mix = load('blend.json');
      const crops = pre.cases.filter((c) => {
        const src = pre.sources[c.source];
        return !same(centerCropSquare(rgb(src.argb), src.width, src.height, c.size), rgb(c.crop_argb));
      }).map((c) => `${c.source}:${c.size}`);
      const post_ok = same(tensorToRgb(Float32Array.from(post.tensor_nhwc)), rgb(post.argb));
      const blends = mix.cases.filter((c) => !same(blend(rgb(mix.content_argb), rgb(mix.stylized_argb), c.strength), rgb(c.argb)));
      console.log(JSON.stringify({ cases: pre.cases.length, crops, post_ok, blends: blends.map((c) => c.strength) }));
    """
    fixtures = DEMO_APP / "core" / "src" / "test" / "resources" / "fixtures"
    run = subprocess.run([node, "--input-type=module", "-e", script, str(fixtures)], cwd=WEB, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result == {"cases": 8, "crops": [], "post_ok": True, "blends": []}, result


def test_page_preserve_colors_matches_python() -> None:
    """src/pixels.js preserveColors against mobilestyle.controls.colors on random pixels, clamps included."""
    node = require_browser_stack()
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    stylized = rng.uniform(-40, 300, (64, 64, 3)).astype(np.float32)
    script = """
      import { readFileSync } from 'node:fs';
      import { preserveColors } from './src/pixels.js';
      const [photo, stylized] = JSON.parse(readFileSync(0, 'utf8'));
      console.log(JSON.stringify(Array.from(preserveColors(Uint8Array.from(photo), Float32Array.from(stylized)))));
    """
    data = json.dumps([photo.ravel().tolist(), stylized.ravel().tolist()])
    run = subprocess.run([node, "--input-type=module", "-e", script], input=data, cwd=WEB, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    page = np.asarray(json.loads(run.stdout), np.float32).reshape(photo.shape)
    assert float(np.abs(page - preserve_colors_array(photo, stylized)).max()) <= 1e-3


def test_page_keep_detail_matches_python() -> None:
    """src/pixels.js keepDetail against mobilestyle.controls.detail: the golden fixture detail.json (the Java core's,
    written with the real KeepDetail: kernel, detail map, two amounts, nested in PreserveColors) and random pixels on a
    larger non-square picture (keep_detail_array, clamps included)."""
    node = require_browser_stack()
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (40, 57, 3), dtype=np.uint8)
    stylized = rng.uniform(-40, 300, photo.shape).astype(np.float32)
    script = """
      import { readFileSync } from 'node:fs';
      import { detailKernel, keepDetail, lumaDetail, preserveColors } from './src/pixels.js';
      const f = JSON.parse(readFileSync(process.argv[1], 'utf8'));
      const [photo, stylized, height, width] = JSON.parse(readFileSync(0, 'utf8'));
      const rgb = Uint8Array.from(f.photo_argb.flatMap((p) => [(p >> 16) & 255, (p >> 8) & 255, p & 255]));
      const worst = (a, b) => (a.length === b.length ? a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) : Infinity);
      const out = Float32Array.from(f.stylized_nhwc);
      const cases = f.cases.map((c) => {
        const kept = keepDetail(rgb, out, f.height, f.width, c.amount);
        return { amount: c.amount, kept: worst(kept, c.kept_nhwc), both: worst(preserveColors(rgb, kept), c.with_colors_nhwc) };
      });
      const random = keepDetail(Uint8Array.from(photo), Float32Array.from(stylized), height, width, 0.7);
      console.log(JSON.stringify({ kernel: worst(detailKernel(f.sigma), f.kernel),
        detail: worst(lumaDetail(rgb, f.height, f.width), f.detail), cases, random: Array.from(random) }));
    """
    fixture = DEMO_APP / "core" / "src" / "test" / "resources" / "fixtures" / "detail.json"
    data = json.dumps([photo.ravel().tolist(), stylized.ravel().tolist(), *photo.shape[:2]])
    run = subprocess.run(
        [node, "--input-type=module", "-e", script, str(fixture)], input=data, cwd=WEB, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["kernel"] <= 1e-7 and result["detail"] <= 1e-3, result
    assert [c["amount"] for c in result["cases"]] == [0.5, 1.5]
    assert all(c["kept"] <= 1e-3 and c["both"] <= 1e-3 for c in result["cases"]), result["cases"]
    page = np.asarray(result["random"], np.float32).reshape(photo.shape)
    assert float(np.abs(page - keep_detail_array(photo, stylized, 0.7)).max()) <= 1e-3


def test_page_tiles_match_python(browser_run: dict, tmp_path: Path) -> None:
    """tiles=1: the whole 700x520 photo in 256² tiles (4 x 3); the page's blend of its tiles = the same plan in Python."""
    node = require_browser_stack()
    photo = tmp_path / "wide.png"
    load_image(browser_run["photo"]).resize((700, 520)).save(photo)
    command = [node, "e2e.mjs", "--models", str(browser_run["models"]), "--photo", str(photo), "--out", str(tmp_path / "e2e")]
    command += ["--style", "alpha", "--runtimes", "onnx,tflite", "--threads", "1", "--runs", "1", "--tiles", "--chromium", str(CHROMIUM)]
    run = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    expected_input = np.asarray(load_image(photo))
    for record in json.loads((tmp_path / "e2e" / "result.json").read_text())["results"]:
        assert record["tiled"] and (record["width"], record["height"]) == (700, 520)
        page_input, page_output = decode(record)
        assert np.array_equal(page_input, expected_input)
        reference = stylize_per_tile(open_model(browser_run["models"] / f"alpha.{record['runtime']}", threads=1).run, expected_input, SIDE)
        diff = float(np.abs(page_output - reference).max())
        assert diff <= MAX_ABS_DIFF, f"{record['runtime']}: tiled page output differs from Python by {diff}"
        check_kept_colors(record, page_input, page_output)
        check_kept_detail(record, page_input, page_output)


def test_page_mix_code_matches_python_fixtures() -> None:
    """src/mixes.js (the mix slider's ladders) gives mobilestyle.mix_ladders' answers on the golden fixture."""
    node = require_browser_stack()
    script = """
      import { readFileSync } from 'node:fs';
      import { ladder, nearest, partners, pickable } from './src/mixes.js';
      const f = JSON.parse(readFileSync(process.argv[1], 'utf8'));
      const names = pickable(f.styles);
      const json = (x) => JSON.stringify(x);
      const wrongLadders = f.ladders.filter((l) => json(ladder(f.styles, l.primary, l.partner)) !== json(l.points));
      const near = nearest(f.ladders[0].points, 0.3);
      const wrongPartners = names.filter((n) => json(partners(f.styles, n)) !== json(f.partners[n]));
      console.log(json({ pickable: json(names) === json(f.pickable), partners: wrongPartners,
        ladders: f.ladders.length, wrong: wrongLadders.map((l) => `${l.primary}/${l.partner}`), near }));
    """
    fixture = DEMO_APP / "core" / "src" / "test" / "resources" / "fixtures" / "mixes.json"
    run = subprocess.run([node, "--input-type=module", "-e", script, str(fixture)], cwd=WEB, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"pickable": True, "partners": [], "ladders": 6, "wrong": [], "near": 1}, run.stdout


@pytest.mark.slow
def test_page_mix_slider_runs_the_bundled_mix(mixed_bundle: dict[str, Path], shared: Path, tmp_path: Path) -> None:  # noqa: F811
    """Mix with candy, slider to 50%: the page runs the bundled 50/50 mix, and its output is Python's for that file."""
    node = require_browser_stack()
    photo = tmp_path / "photo.png"
    load_image(shared / "data" / "eval" / "content" / "golden_gate.jpg").save(photo)
    command = [node, "e2e.mjs", "--models", str(mixed_bundle["models"]), "--photo", str(photo), "--out", str(tmp_path / "e2e")]
    command += ["--style", "starry_night", "--mix", "candy:0.5", "--runtimes", "onnx,tflite", "--threads", "1", "--runs", "1"]
    run = subprocess.run([*command, "--chromium", str(CHROMIUM)], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    expected_input = np.asarray(center_crop_square(load_image(photo), SIDE)).astype(np.float32)
    for record in json.loads((tmp_path / "e2e" / "result.json").read_text())["results"]:
        mix = record["mix"]
        assert [p["style"] for p in mix["ladder"]] == ["starry_night", MIX, "candy"] and mix["style"] == MIX
        assert mix["label"] == "50% candy"
        page_output = np.frombuffer(base64.b64decode(mix["output_nhwc_f32_b64"]), np.float32).reshape(SIDE, SIDE, 3)
        reference = open_model(mixed_bundle["models"] / f"{MIX}.{record['runtime']}", threads=1).run(expected_input)
        diff = float(np.abs(page_output - reference).max())
        assert diff <= MAX_ABS_DIFF, f"{record['runtime']}: the page's mix differs from Python by {diff}"
        _, unmixed = decode(record)
        assert float(np.abs(page_output - unmixed).mean()) > 5  # the slider changed the picture


@pytest.mark.slow
def test_page_tiles_with_norm_statistics(mixed_bundle: dict[str, Path], shared: Path, tmp_path: Path) -> None:  # noqa: F811
    """A bundle with --tiles: the page's whole-photo mode takes the statistics of the centre crop once and normalises
    every tile with them; its output = stylize_whole_photo on the same file (ONNX and TFLite)."""
    node = require_browser_stack()
    photo = tmp_path / "wide.png"
    load_image(shared / "data" / "eval" / "content" / "golden_gate.jpg").resize((700, 520)).save(photo)
    command = [node, "e2e.mjs", "--models", str(mixed_bundle["models"]), "--photo", str(photo), "--out", str(tmp_path / "e2e")]
    command += ["--style", "candy", "--runtimes", "onnx,tflite", "--threads", "1", "--runs", "1", "--tiles", "--chromium", str(CHROMIUM)]
    run = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rgb = np.asarray(load_image(photo), np.float32)
    for record in json.loads((tmp_path / "e2e" / "result.json").read_text())["results"]:
        assert record["tiled"] and record["tile_stats"] and "one set of norm statistics" in record["latency_text"]
        page_input, page_output = decode(record)
        assert np.array_equal(page_input, rgb.astype(np.uint8))
        file = mixed_bundle["models"] / f"candy.tiles.{record['runtime']}"
        diff = float(np.abs(page_output - stylize_whole_photo(NormStatsRunner(file), rgb, SIDE)).max())
        assert diff <= MAX_ABS_DIFF, f"{record['runtime']}: the page's tiles differ from Python by {diff}"
        per_tile = stylize_per_tile(open_model(mixed_bundle["models"] / f"candy.{record['runtime']}", threads=1).run, rgb, SIDE)
        assert float(np.abs(page_output - per_tile).mean()) > 5  # not the per-tile statistics
