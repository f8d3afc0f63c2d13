"""Rebuild one arm's model and logs from what `scripts/gpu_train.sh` handed back (docs/training.md §5).

    python scripts/gpu_unpack.py FILES_AT/sw50 DEST

DEST gets meta8.safetensors (fp16, sha256-checked against the manifest, decompressed from xz) and the run's logs
(metrics.csv, train.log, summary.json, options.json, sample_grid.png when there is one).
"""

from __future__ import annotations

import lzma
import tarfile
from pathlib import Path

import click
from shards import join_parts, run_command

from mobilestyle.atomic import atomic_write_bytes, ensure_writable_dir


@click.command(help=__doc__)
@click.argument("handed_back", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def main(handed_back: Path, dest: Path) -> None:
    dest = ensure_writable_dir(dest)
    try:
        with tarfile.open(handed_back / "logs.tar.gz") as logs:
            logs.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise click.ClickException(f"{handed_back / 'logs.tar.gz'}: {exc}") from None
    manifest = dest / "parts" / "meta8.safetensors.xz.manifest.json"
    for part in handed_back.glob("*.part*"):
        (dest / "parts" / part.name).write_bytes(part.read_bytes())
    packed = join_parts(manifest)
    model = dest / "meta8.safetensors"
    atomic_write_bytes(model, lzma.decompress(packed.read_bytes()))
    click.echo(f"{model} ({model.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    run_command(main)
