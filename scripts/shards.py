"""Split a file into parts no larger than a limit, and join them back with sha256 checks.

Used to bring checkpoints back from the GPU machine, whose returned files must each be <= 16 MiB:
``python scripts/shards.py split FILE OUT_DIR`` writes FILE.partNNN and FILE.manifest.json;
``python scripts/shards.py join OUT_DIR/FILE.manifest.json TARGET`` rebuilds FILE atomically.
A development helper (not installed with the package); it needs mobilestyle importable (installed, or PYTHONPATH=.).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from mobilestyle.atomic import atomic_path, atomic_write_bytes, atomic_write_text, ensure_writable_dir
from mobilestyle.errors import MobilestyleError

DEFAULT_PART_BYTES = 15 * 1024 * 1024
MANIFEST_SUFFIX = ".manifest.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_file(path: str | Path, out_dir: str | Path, part_bytes: int = DEFAULT_PART_BYTES) -> Path:
    """Write ``path`` as parts of at most ``part_bytes`` into ``out_dir``; return the manifest's path."""
    path, out_dir = Path(path), ensure_writable_dir(Path(out_dir))
    if not path.is_file():
        raise MobilestyleError(f"{path}: no such file")
    if part_bytes < 1:
        raise MobilestyleError("part size must be positive")
    data = path.read_bytes()
    parts = []
    for index, start in enumerate(range(0, max(len(data), 1), part_bytes)):
        chunk = data[start : start + part_bytes]
        name = f"{path.name}.part{index:03d}"
        atomic_write_bytes(out_dir / name, chunk)
        parts.append({"file": name, "bytes": len(chunk), "sha256": _sha256(chunk)})
    manifest = {"name": path.name, "bytes": len(data), "sha256": _sha256(data), "parts": parts}
    target = out_dir / f"{path.name}{MANIFEST_SUFFIX}"
    atomic_write_text(target, json.dumps(manifest, indent=2))
    return target


def join_parts(manifest_path: str | Path, target: str | Path | None = None) -> Path:
    """Rebuild the file a manifest describes (parts beside the manifest); every sha256 is checked."""
    manifest_path = Path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
        parts, name, digest = manifest["parts"], manifest["name"], manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MobilestyleError(f"{manifest_path}: not a shards manifest ({type(exc).__name__})") from None
    target = Path(target) if target else manifest_path.parent / name
    whole = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        for part in parts:
            part_path = manifest_path.parent / part["file"]
            if not part_path.is_file():
                raise MobilestyleError(f"part missing: {part_path}")
            chunk = part_path.read_bytes()
            if _sha256(chunk) != part["sha256"]:
                raise MobilestyleError(f"part {part_path} is damaged (sha256 mismatch)")
            whole.update(chunk)
            out.write(chunk)
        if whole.hexdigest() != digest:
            raise MobilestyleError(f"joined file does not match {manifest_path} (sha256 mismatch)")
    return target


@click.group(help=__doc__)
def cli() -> None:
    pass


@cli.command("split")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--part-mib", type=click.FloatRange(min=0.001), default=DEFAULT_PART_BYTES / 2**20, show_default=True)
def split_command(path: Path, out_dir: Path, part_mib: float) -> None:
    """Split PATH into OUT_DIR/NAME.partNNN + NAME.manifest.json."""
    click.echo(split_file(path, out_dir, int(part_mib * 2**20)))


@cli.command("join")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path), required=False)
def join_command(manifest: Path, target: Path | None) -> None:
    """Rebuild the file from MANIFEST (default: beside it, under its original name)."""
    click.echo(join_parts(manifest, target))


def run_command(command: click.Command) -> None:
    """Run a development script's click command: errors as one line and exit code 2, never a traceback."""
    try:
        command.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except MobilestyleError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    run_command(cli)
