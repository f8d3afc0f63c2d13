"""Type-check the package as it installs: mobilestyle/ with export/ as mobilestyle.export (pyproject's package-dir).

mypy maps folders to module names by the folder tree, and export/ sits beside mobilestyle/ in the repository, so
this builds the installed layout from symlinks in a temporary folder, runs mypy there with pyproject.toml's
[tool.mypy] settings, and reports paths as repository paths. Usage (CI: .ci/run): python scripts/typecheck.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mobilestyle-mypy-") as tmp:
        package = Path(tmp) / "mobilestyle"
        package.mkdir()
        for entry in (REPO / "mobilestyle").iterdir():
            if entry.name != "__pycache__":
                (package / entry.name).symlink_to(entry)
        (package / "export").symlink_to(REPO / "export")
        command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "-p", "mobilestyle"]
        result = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
    output = (result.stdout + result.stderr).replace("mobilestyle/export/", "export/")
    sys.stdout.write(output)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
