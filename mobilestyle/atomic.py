"""Files: atomic output (write beside the target under a temporary name, then rename), output checks and hashes.

Temporary names carry the writer's process id (``.NAME.PID.RANDOM.tmp``): a run killed with SIGKILL cannot remove
its temporary, so every later write into the same folder sweeps the temporaries whose process is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mobilestyle.errors import MobilestyleError

# .NAME.PID.RANDOM.tmp[SUFFIX] (this version) and .NAME.RANDOM.tmp[SUFFIX] (older versions, swept after a day)
_OURS = re.compile(r"^\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]{6,}\.tmp(\.[A-Za-z0-9]+)?$")
_LEGACY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")
LEGACY_AGE_S = 24 * 3600


def os_error_message(exc: OSError, action: str, path: Path | str) -> str:
    """One line for an OS error while writing: ``cannot write X: No space left on device``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot {action} {path}: {reason}"


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(directory: Path) -> None:
    """Create and remove a file in ``directory``: the only test that holds for root, /proc, /sys and read-only mounts."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".mobilestyle-probe.{os.getpid()}.", suffix=".tmp", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise MobilestyleError(os_error_message(exc, "write into", directory)) from None


def check_output_dir(directory: Path) -> Path:
    """Check, without creating anything, that ``directory`` is or can become a writable folder."""
    directory = Path(directory)
    existing = _nearest_existing(directory)
    if not existing.is_dir():
        if existing == Path(os.path.abspath(directory)):
            raise MobilestyleError(f"output path {directory} is not a folder")
        raise MobilestyleError(f"cannot create output folder {directory}: {existing} is not a folder")
    _probe(existing)
    return directory


def check_output_file(target: Path) -> Path:
    """Check, before any work, that the file ``target`` can be written (its folder may still have to be created)."""
    target = Path(target)
    if target.is_dir():
        raise MobilestyleError(f"output file {target} is a folder")
    check_output_dir(target.parent)
    return target


@contextlib.contextmanager
def removing_new_dirs(directory: Path) -> Iterator[None]:
    """Folders on the way to ``directory`` created inside the block are removed again if it fails and they are empty."""
    missing: list[Path] = []
    path = Path(os.path.abspath(directory))
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    try:
        yield
    except BaseException:
        for folder in missing:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def ensure_writable_dir(directory: Path) -> Path:
    """Create ``directory`` if needed and check that files can be written there."""
    directory = Path(directory)
    check_output_dir(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MobilestyleError(f"cannot create output folder {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise MobilestyleError(f"output path {directory} is not a folder")
    return directory


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temporaries(directory: Path) -> list[Path]:
    """Remove this tool's temporaries in ``directory`` left by processes that no longer run (kill -9, power loss)."""
    removed: list[Path] = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _OURS.match(entry.name)
        if match:
            stale = not _pid_alive(int(match.group("pid")))
        elif _LEGACY.match(entry.name):
            stale = _age(entry, now) > LEGACY_AGE_S
        else:
            continue
        if stale and _remove(entry):
            removed.append(entry)
    return removed


def _age(entry: Path, now: float) -> float:
    try:
        return now - entry.lstat().st_mtime
    except OSError:
        return 0.0


def _remove(entry: Path) -> bool:
    try:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    except OSError:
        return False
    return True


def _temporary_beside(target: Path, suffix: str) -> Path:
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp" + suffix, dir=target.parent)
    except OSError as exc:
        raise MobilestyleError(os_error_message(exc, "write", target)) from None
    os.close(fd)
    os.unlink(tmp_name)
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename.

    Works for files and folders (e.g. a CoreML .mlpackage). On error (or SIGTERM, which the CLI turns into an
    exception) the temporary is removed and ``target`` is left untouched; OS errors (disk full, read-only or
    pseudo file systems) become one MobilestyleError naming the target.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    sweep_stale_temporaries(target.parent)
    tmp = _temporary_beside(target, suffix)
    try:
        yield tmp
        if not tmp.exists():
            raise MobilestyleError(f"nothing was written for {target}")
        _replace(tmp, target)
    except OSError as exc:
        raise MobilestyleError(os_error_message(exc, "write", target)) from None
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def _replace(tmp: Path, target: Path) -> None:
    if tmp.is_file():
        os.chmod(tmp, 0o666 & ~_umask())
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.{os.getpid()}.oldtree.tmp")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


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


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder ``PREFIX.PID.RANDOM.tmp`` in the system temp dir, removed on exit (SIGTERM included);
    folders of the same prefix whose process is gone (kill -9) are swept first."""
    root = Path(tempfile.gettempdir())
    for entry in root.glob(f"{prefix}.*.tmp"):
        match = re.match(rf"^{re.escape(prefix)}\.(\d+)\.[A-Za-z0-9_]+\.tmp$", entry.name)
        if match and not _pid_alive(int(match.group(1))):
            _remove(entry)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}.{os.getpid()}.", suffix=".tmp", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
