"""Files: atomic output (write beside the target under a temporary name, then rename) and content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mobilestyle.errors import MobilestyleError


def ensure_writable_dir(directory: Path) -> Path:
    """Create ``directory`` if needed and check that files can be written there."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MobilestyleError(f"cannot create output folder {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise MobilestyleError(f"output path {directory} is not a folder")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MobilestyleError(f"output folder {directory} is not writable")
    return directory


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename.

    Works for files and folders (e.g. a CoreML .mlpackage). On error the temporary is removed
    and ``target`` is left untouched.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=target.parent)
    os.close(fd)
    os.unlink(tmp_name)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise MobilestyleError(f"nothing was written for {target}")
        if tmp.is_file():
            os.chmod(tmp, 0o666 & ~_umask())
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
