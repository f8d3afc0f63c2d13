"""`mobilestyle bundle`: style models (or style images, exported first) -> the Android demo's assets and the web demo.

Each input is an exported model (.tflite for the app, .onnx and .tflite for the web demo) or a style image,
which is exported first with the meta network. Every model is validated (metadata, signatures, one run on a
probe image) before it is copied; manifest.json (name, file, bytes, sha256, sizes, layout, value range,
precision, thumbnail) is written last and atomically. Bundling again adds or replaces styles by name.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click
from tqdm import tqdm

from mobilestyle import bundle
from mobilestyle.atomic import ensure_writable_dir
from mobilestyle.commands.options import checkpoint_option, json_flag, vgg_weights_option
from mobilestyle.errors import MobilestyleError
from mobilestyle.export.model_format import MAX_SIDE, MIN_SIDE, PRECISIONS


@click.command(help=__doc__)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--app",
    "app_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("android_demo"),
    show_default=True,
    help="The Android demo project; models go to app/src/main/assets/styles/.",
)
@click.option(
    "--web",
    "web_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also bundle for the browser demo (e.g. android_demo/web): ONNX and TFLite go to DIR/models/.",
)
@click.option("--no-app", is_flag=True, help="Bundle only for the web demo.")
@click.option(
    "--size",
    type=click.IntRange(MIN_SIDE, MAX_SIDE),
    default=256,
    show_default=True,
    help="Model input side when exporting style images (multiple of 4); probe size for dynamic models.",
)
@click.option(
    "--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True, help="Precision when exporting style images."
)
@click.option(
    "--name", default=None, help="Style name when bundling one style (a-z 0-9 _ -). Default: the metadata's style name or the file stem."
)
@click.option(
    "--mix-steps",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Also bundle the N-1 mixes between every pair of the style images (hidden-space mixes at 1/N, 2/N, ...): "
    "the demos' mix slider steps through them. 0: no mixes.",
)
@click.option(
    "--tiles",
    is_flag=True,
    help="Also bundle each exported style's norm-statistics file (NAME.tiles.tflite / .onnx, fp32): the demos' whole-photo "
    "mode then normalises every tile with the statistics of one pass over the photo (docs/controls.md). Style images only.",
)
@click.option("--clean", is_flag=True, help="Drop styles bundled earlier (only files their manifest names are deleted).")
@click.option(
    "--fixtures",
    "fixtures_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the golden preprocessing fixtures the app's Java core tests read, to this folder.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@checkpoint_option
@vgg_weights_option
@json_flag
def command(
    inputs: tuple[Path, ...],
    app_dir: Path,
    web_dir: Path | None,
    no_app: bool,
    size: int,
    precision: str,
    name: str | None,
    mix_steps: int,
    tiles: bool,
    clean: bool,
    fixtures_dir: Path | None,
    no_progress: bool,
    checkpoint: Path | None,
    vgg_weights: Path | None,
    as_json: bool,
) -> None:
    summary: dict = {}
    if fixtures_dir is not None:
        summary["fixtures"] = [str(p) for p in write_demo_fixtures(fixtures_dir)]
    if not inputs:
        if fixtures_dir is None:
            raise MobilestyleError("nothing to bundle: pass .tflite/.onnx models or style images")
        _report(summary, as_json)
        return
    if size % 4:
        raise MobilestyleError(f"--size must be a multiple of 4, not {size}")
    if no_app and web_dir is None:
        raise MobilestyleError("--no-app needs --web DIR")
    if name is not None:
        bundle.check_name(name)
    model_paths, style_images = bundle.classify_inputs(inputs)
    if mix_steps == 1 or (mix_steps and len(style_images) < 2):
        raise MobilestyleError("--mix-steps N needs N >= 2 and at least two style images (mixes come from the meta network)")
    if tiles and not style_images:
        raise MobilestyleError("--tiles exports norm-statistics files from style images: give at least one STYLE.jpg")
    destinations = []
    if not no_app:
        destinations.append(bundle.Destination("app", bundle.app_assets_dir(app_dir), ("tflite",), clean))
    if web_dir is not None:
        web_models = ensure_writable_dir(web_dir / bundle.WEB_MODELS)
        destinations.append(bundle.Destination("web", web_models, ("onnx", "tflite"), clean))
    total = bundle.export_count(len(style_images), mix_steps)
    with tqdm(total=total, desc="export", unit="style", disable=no_progress or not style_images) as progress:
        result = bundle.bundle_inputs(
            model_paths,
            style_images,
            destinations,
            size=size,
            precision=precision,
            name=name,
            checkpoint=checkpoint,
            vgg_weights=vgg_weights,
            mix_steps=mix_steps,
            tiles=tiles,
            progress=progress,
        )
    summary.update(result.to_dict())
    _report(summary, as_json)


def _report(summary: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for path in summary.get("fixtures", []):
        click.echo(f"fixture  {path}")
    for style in summary.get("styles", []):
        files = ", ".join(
            f"{fmt} {info['bytes'] / 1024:.0f} KiB ({info['precision']}, probe {info['probe_size']}² in {info['probe_ms']:.0f} ms)"
            for fmt, info in style["files"].items()
        )
        diff = style["onnx_vs_tflite_max_abs_diff"]
        click.echo(f"{style['name']:<24} {files}" + (f"; onnx vs tflite max |diff| {diff:.4f}" if diff is not None else ""))
    for dest in summary.get("destinations", []):
        click.echo(
            f"{dest['label']:<4} {dest['manifest']}: {len(dest['styles_written'])} style(s) written, "
            f"{dest['total_bytes'] / 1024:.0f} KiB in total"
        )


def write_demo_fixtures(folder: Path) -> list[Path]:
    """The demo's golden fixtures, written by scripts/demo_fixtures.py of the source checkout (a development helper,
    not part of the installed package)."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "demo_fixtures.py"
    if not script.is_file():
        raise MobilestyleError(f"--fixtures needs a source checkout of mobilestyle ({script} is missing)")
    spec = importlib.util.spec_from_file_location("demo_fixtures", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_fixtures(folder)
