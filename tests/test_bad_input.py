"""Bad input to `export` / `stylize`: one clear line on stderr, non-zero exit, never a partial model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image


def make_inputs(folder):
    """Every kind of bad (and awkward but valid) picture the issue lists, written into ``folder``."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), "RGB")
    (folder / "not_an_image.jpg").write_text("hello, I am text")
    photo.save(folder / "full.jpg", quality=90)
    data = (folder / "full.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "a_folder.png").mkdir()
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.new("RGB", (12, 40), "green").save(folder / "tiny.png")
    # Valid but unusual: must succeed.
    photo.convert("L").save(folder / "gray.png")
    photo.convert("RGBA").save(folder / "rgba.png")
    photo.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray((rng.integers(0, 65535, (48, 64))).astype(np.uint16)).save(folder / "deep16.png")
    rotated = photo.copy()
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    rotated.save(folder / "exif_rotated.jpg", exif=exif)
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad_inputs"))


def assert_one_line_error(result, *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("not_an_image.jpg", "not an image"),
        ("truncated.jpg", "truncated or corrupt"),
        ("a_folder.png", "is a folder"),
        ("animated.gif", "animated"),
        ("tiny.png", "smaller than 16"),
        ("missing.png", "no such file"),
    ],
)
def test_bad_style_image_refused_without_output(inputs, tmp_path, tiny_checkpoint, name, needle):
    out = tmp_path / "out"
    result = run_cli("export", str(inputs / name), "--format", "onnx", "--checkpoint", str(tiny_checkpoint), "-o", str(out))
    assert_one_line_error(result, needle)
    assert not out.exists()  # not even an empty folder


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "png"], "unknown format"),
        (["--size", "250"], "unsupported size 250"),
        (["--size", "8"], "unsupported size 8"),
        (["--name", "../escape"], "bad model name"),
    ],
)
def test_bad_export_options(inputs, tmp_path, tiny_checkpoint, args, needle):
    result = run_cli("export", str(inputs / "full.jpg"), *args, "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "out"))
    assert_one_line_error(result, needle)
    assert not (tmp_path / "out").exists()


def test_output_file_path_writes_that_one_file(inputs, tmp_path, tiny_checkpoint):
    """`-o NAME.onnx` writes exactly that verified file (its format from the suffix); an existing folder stays a folder."""
    from mobilestyle.export import read_metadata

    target = tmp_path / "new" / "my.style.onnx"
    result = run_cli("export", str(inputs / "full.jpg"), "--checkpoint", str(tiny_checkpoint), "-o", str(target), "--json")
    assert result.returncode == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert record["format"] == "onnx" and record["verified"] is True and Path(record["path"]) == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["my.style.onnx"]
    assert read_metadata(target)["style_name"] == "my.style"
    folder = tmp_path / "looks_like.onnx"
    folder.mkdir()
    result = run_cli("export", str(inputs / "full.jpg"), "--format", "onnx", "--checkpoint", str(tiny_checkpoint), "-o", str(folder))
    assert result.returncode == 0, result.stderr
    assert (folder / "full.onnx").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "tflite"], "--format asks for tflite"),
        (["--format", "onnx,tflite"], "--format asks for onnx, tflite"),
        (["--name", "other"], "drop --name"),
        (["SECOND"], "give a folder for several styles"),
    ],
)
def test_output_file_path_conflicts(inputs, tmp_path, tiny_checkpoint, args, needle):
    args = [str(inputs / "rgba.png") if a == "SECOND" else a for a in args]
    target = tmp_path / "out" / "my.onnx"
    result = run_cli("export", str(inputs / "full.jpg"), *args, "--checkpoint", str(tiny_checkpoint), "-o", str(target))
    assert_one_line_error(result, needle)
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(inputs, tmp_path, tiny_checkpoint):
    blocker = tmp_path / "file_not_folder"
    blocker.write_text("x")
    result = run_cli(
        "export", str(inputs / "full.jpg"), "--format", "onnx", "--checkpoint", str(tiny_checkpoint), "-o", str(blocker / "out")
    )
    assert_one_line_error(result, "cannot create output folder")


def test_huge_image_not_decoded_whole(tmp_path):
    """A >50 MP PNG is refused from its header; a >50 MP JPEG is decoded downscaled (draft mode)."""
    from mobilestyle.errors import MobilestyleError
    from mobilestyle.images import load_image

    png = tmp_path / "huge.png"
    Image.new("L", (10000, 6000)).save(png, optimize=False, compress_level=1)
    result = run_cli("stylize", str(png), "--model", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "o.png"))
    assert_one_line_error(result, "over the 50 MP limit")
    jpeg = tmp_path / "huge.jpg"
    Image.new("RGB", (10000, 6000), "white").save(jpeg, quality=50)
    picture = load_image(jpeg)
    assert picture.size[0] * picture.size[1] <= 50_000_000 and picture.size[0] > picture.size[1]
    with pytest.raises(MobilestyleError):
        load_image(png)


def test_unusual_but_valid_images_stylize(inputs, tmp_path, tiny_checkpoint, vgg_weights):
    """Grayscale, RGBA, CMYK and 16-bit PNG work; EXIF rotation is honoured (64x48 stored -> 48x64 shown)."""
    names = ["gray.png", "rgba.png", "cmyk.jpg", "deep16.png", "exif_rotated.jpg"]
    result = run_cli(
        "stylize",
        *(str(inputs / n) for n in names),
        "--style",
        str(inputs / "full.jpg"),
        "--checkpoint",
        str(tiny_checkpoint),
        "--vgg-weights",
        str(vgg_weights),
        "-o",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    outputs = {p.name.split("_full")[0]: Image.open(p) for p in tmp_path.glob("*_full.png")}
    assert sorted(outputs) == sorted(n.rsplit(".", 1)[0] for n in names)
    assert outputs["gray"].mode == "RGB" and outputs["gray"].size == (64, 48)
    assert outputs["exif_rotated"].size == (48, 64)
