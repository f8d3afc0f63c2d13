"""The Android demo, as far as this machine can check it (no android.jar, d8 or LiteRT AAR here: no APK).

- The core module's JUnit tests (Debian's offline Maven) against golden fixtures written by Python now, and
  against a real bundle's manifest: Java and Python preprocessing agree pixel for pixel.
- aapt2 links the app's manifest, resources and bundled assets against Debian's android-framework-res, and
  stores the .tflite files uncompressed.
- The Gradle project holds what Android Studio needs to build the APK.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from conftest import run_cli
from test_bundle import DEMO_APP, demo_models, make_app, mixed_bundle, styles_folder  # noqa: F401  (fixtures)

CORE = DEMO_APP / "core"
APP_MAIN = DEMO_APP / "app" / "src" / "main"
MAVEN_REPO = Path("/usr/share/maven-repo")
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
INSTALL_HINT = "run .ci/install-demo-tools.sh (apt: maven junit4 libsurefire-java libmaven-compiler-plugin-java aapt android-framework-res)"


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if (
        mvn is None
        or not (MAVEN_REPO / "junit" / "junit" / "4.13.2").is_dir()
        or not (MAVEN_REPO / "org/apache/maven/plugins/maven-surefire-plugin/2.22.3").is_dir()
    ):
        pytest.skip(f"Debian's offline Maven with junit4 and surefire is not installed: {INSTALL_HINT}")
    return mvn


def require_aapt2() -> str:
    aapt2 = shutil.which("aapt2")
    if aapt2 is None or not FRAMEWORK_RES.is_file():
        pytest.skip(f"aapt2 or android-framework-res is not installed: {INSTALL_HINT}")
    return aapt2


@pytest.fixture(scope="module")
def bundled_app(demo_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    app = make_app(tmp_path_factory.mktemp("android"))
    result = run_cli("bundle", str(demo_models["tflite"]), "--app", str(app), "--no-progress")
    assert result.returncode == 0, result.stderr
    return app


def surefire_totals(reports: Path) -> dict[str, int]:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports.glob("TEST-*.xml"):
        suite = ET.parse(report).getroot()
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    return totals


@pytest.mark.slow
def test_core_module_agrees_with_python(mixed_bundle: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    """The JUnit suite on fixtures written now, and on a real bundle with a mix (its manifest, hashes and ladder)."""
    mvn = require_maven()
    fixtures = tmp_path / "fixtures"
    result = run_cli("bundle", "--fixtures", str(fixtures))
    assert result.returncode == 0, result.stderr
    build = tmp_path / "build"
    manifest = mixed_bundle["styles"] / "manifest.json"
    command = [
        mvn,
        "-q",
        "-o",
        "-B",
        "-s",
        str(CORE / "debian-offline-settings.xml"),
        f"-Dcore.build.dir={build}",
        f"-Dfixtures.dir={fixtures}",
        f"-Dbundle.manifest={manifest}",
        "test",
    ]
    run = subprocess.run(command, cwd=CORE, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    totals = surefire_totals(build / "surefire-reports")
    assert totals["tests"] >= 12 and totals["failures"] == 0 and totals["errors"] == 0, totals
    assert totals["skipped"] == 0, totals  # the real-bundle test ran: its manifest parses and every sha256 matches


def aapt2_link(aapt2: str, manifest: Path, res: Path, assets: Path | None, out: Path) -> subprocess.CompletedProcess:
    """What the Android Gradle plugin does with the resources: compile, then link against the framework."""
    compiled = out / "res.zip"
    subprocess.run([aapt2, "compile", "--dir", str(res), "-o", str(compiled)], check=True, capture_output=True, text=True)
    # AGP writes the module's `namespace` into the merged manifest as its package; do the same here.
    merged = out / "AndroidManifest.xml"
    merged.write_text(manifest.read_text().replace("<manifest ", '<manifest package="com.mobilestyle.demo" ', 1))
    command = [
        aapt2,
        "link",
        "-I",
        str(FRAMEWORK_RES),
        "--manifest",
        str(merged),
        "--min-sdk-version",
        "29",
        "--target-sdk-version",
        "35",
        "--java",
        str(out / "gen"),
        "-0",
        ".tflite",
        "-o",
        str(out / "app.ap_"),
        str(compiled),
    ]
    if assets is not None:
        command[2:2] = ["-A", str(assets.parent)]
    return subprocess.run(command, capture_output=True, text=True)


def test_aapt2_links_manifest_resources_and_assets(bundled_app: Path, tmp_path: Path) -> None:
    aapt2 = require_aapt2()
    result = aapt2_link(aapt2, APP_MAIN / "AndroidManifest.xml", APP_MAIN / "res", styles_folder(bundled_app), tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "app.ap_") as apk:
        names = apk.namelist()
        assert {"AndroidManifest.xml", "resources.arsc", "res/layout/activity_main.xml"} <= set(names), names
        model = apk.getinfo("assets/styles/alpha.tflite")
        assert model.compress_type == zipfile.ZIP_STORED  # memory-mappable, like noCompress += "tflite"
        assert apk.getinfo("assets/styles/manifest.json").file_size > 0
    r_java = (tmp_path / "gen" / "com" / "mobilestyle" / "demo" / "R.java").read_text()
    used = set(
        re.findall(r"(?<!android\.)\bR\.(?:id|layout|string)\.(\w+)", "".join(p.read_text() for p in (APP_MAIN / "kotlin").rglob("*.kt")))
    )
    missing = [name for name in used if f" {name}=" not in r_java and f" {name} =" not in r_java]
    assert not missing, f"Kotlin uses resources aapt2 did not generate: {missing}"


def test_aapt2_check_catches_a_broken_layout(tmp_path: Path) -> None:
    aapt2 = require_aapt2()
    res = tmp_path / "res"
    shutil.copytree(APP_MAIN / "res", res)
    layout = res / "layout" / "activity_main.xml"
    layout.write_text(layout.read_text().replace('android:text="@string/use_gpu"', 'android:text="@string/no_such_string"'))
    (tmp_path / "out").mkdir()
    result = aapt2_link(aapt2, APP_MAIN / "AndroidManifest.xml", res, None, tmp_path / "out")
    assert result.returncode != 0 and "no_such_string" in result.stderr, result.stderr


def test_gradle_project_has_what_android_studio_needs() -> None:
    settings = (DEMO_APP / "settings.gradle.kts").read_text()
    assert 'include(":app", ":core")' in settings
    app_build = (DEMO_APP / "app" / "build.gradle.kts").read_text()
    assert 'noCompress += "tflite"' in app_build and 'implementation(project(":core"))' in app_build
    assert "`java-library`" in (CORE / "build.gradle.kts").read_text()
    versions = (DEMO_APP / "gradle" / "libs.versions.toml").read_text()
    assert "com.google.ai.edge.litert:litert-gpu" in versions
    kotlin = {p.name: p.read_text() for p in (APP_MAIN / "kotlin").rglob("*.kt")}
    runner = kotlin["StyleRunner.kt"]
    assert "setUseXNNPACK(true)" in runner and "GpuDelegate" in runner and "runSignature" in runner
    manifest = ET.parse(APP_MAIN / "AndroidManifest.xml").getroot()
    android = "{http://schemas.android.com/apk/res/android}"
    activities = [a.get(f"{android}name") for a in manifest.iter("activity")]
    assert activities == [".MainActivity"] and "class MainActivity" in kotlin["MainActivity.kt"]
