"""The service's content-addressed disk cache: one folder per model id, ROOT/<id[:2]>/<id>/, holding the model
files, the prepared style picture (to rebuild the entry) and entry.json (each file's size and sha256).

- Atomic: an entry is written in full under a temporary name beside its place, then renamed in one step
  (mobilestyle.atomic), so a reader sees a whole entry or none; temporaries of a killed process are swept at
  start-up and by the next write into the same shard.
- Checked: every read re-hashes the bytes it hands out; a file whose sha256 differs from entry.json (truncated,
  bit-flipped, deleted) makes the entry corrupt: it is removed and reported missing, so the caller rebuilds it.
- Bounded: the total size is held under ``max_bytes`` by evicting the least recently used entries.
- Contained: ids must be 64 hex digits and file names must be listed in entry.json, so no request names a path
  outside the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobilestyle.atomic import atomic_path, sweep_stale_temporaries

ENTRY_FILE = "entry.json"
_ID = re.compile(r"^[0-9a-f]{64}$")
log = logging.getLogger(__name__)


def valid_id(model_id: str) -> bool:
    return bool(_ID.match(model_id))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    id: str
    folder: Path
    meta: dict[str, Any]

    def file_info(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.meta["files"] if f["name"] == name), None)


class ModelCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._index: dict[str, tuple[int, float]] = {}  # id -> (bytes on disk, last used)
        self.evictions = 0
        self.corrupt = 0
        self._scan()

    # -- start-up ---------------------------------------------------------------------------------------------
    def _scan(self) -> None:
        """Sweep temporaries left by killed processes and index the finished entries (last used = entry.json mtime)."""
        sweep_stale_temporaries(self.root)
        for shard in self.root.iterdir():
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            sweep_stale_temporaries(shard)
            for folder in shard.iterdir():
                if valid_id(folder.name) and (folder / ENTRY_FILE).is_file():
                    self._index[folder.name] = (_folder_bytes(folder), (folder / ENTRY_FILE).stat().st_mtime)
        self._evict()

    # -- reading ----------------------------------------------------------------------------------------------
    def folder(self, model_id: str) -> Path:
        if not valid_id(model_id):
            raise ValueError(f"not a model id: {model_id!r}")
        return self.root / model_id[:2] / model_id

    def get(self, model_id: str, check: bool = True) -> Entry | None:
        """The entry if present and whole (every file re-hashed when ``check``); a corrupt entry is removed -> None."""
        if not valid_id(model_id):
            return None
        folder = self.folder(model_id)
        try:
            meta = json.loads((folder / ENTRY_FILE).read_text())
            if check:
                for info in meta["files"] + [meta["style"]]:
                    if sha256_bytes((folder / info["name"]).read_bytes()) != info["sha256"]:
                        raise ValueError(f"{info['name']}: sha256 mismatch")
        except FileNotFoundError:
            if folder.exists():  # entry.json or a file missing from a renamed-in entry: corrupt
                self._drop_corrupt(model_id, "a file is missing")
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._drop_corrupt(model_id, str(exc))
            return None
        self.touch(model_id)
        return Entry(model_id, folder, meta)

    def read(self, entry: Entry, name: str) -> bytes | None:
        """A file of ``entry`` (name listed in entry.json) whose sha256 checks; None if it does not."""
        info = entry.file_info(name) or (entry.meta["style"] if entry.meta["style"]["name"] == name else None)
        if info is None:
            return None
        try:
            data = (entry.folder / info["name"]).read_bytes()
        except OSError:
            data = b""
        if sha256_bytes(data) != info["sha256"]:  # never served; the caller rebuilds or removes the entry
            log.warning("cache entry %s: %s is corrupt (sha256 mismatch)", entry.id, name)
            self.corrupt += 1
            return None
        self.touch(entry.id)
        return data

    def touch(self, model_id: str) -> None:
        now = time.time()
        with self._lock:
            if model_id in self._index:
                self._index[model_id] = (self._index[model_id][0], now)
        with contextlib.suppress(OSError):  # last use survives a restart
            os.utime(self.folder(model_id) / ENTRY_FILE, (now, now))

    # -- writing ----------------------------------------------------------------------------------------------
    def put(self, model_id: str, write: Callable[[Path], dict[str, Any]]) -> Entry:
        """Build an entry: ``write(folder)`` writes the files into a temporary folder and returns entry.json's content
        with ``files`` and ``style`` naming them ({"name", ...}); sizes and hashes are added here."""
        target = self.folder(model_id)
        with atomic_path(target) as tmp:
            tmp.mkdir()
            meta = write(tmp)
            for info in meta["files"] + [meta["style"]]:
                data = (tmp / info["name"]).read_bytes()
                info["bytes"] = len(data)
                info["sha256"] = sha256_bytes(data)
            meta["id"] = model_id
            (tmp / ENTRY_FILE).write_text(json.dumps(meta, indent=1))
        with self._lock:
            self._index[model_id] = (_folder_bytes(target), time.time())
        self._evict(keep=model_id)
        return Entry(model_id, target, meta)

    def remove(self, model_id: str) -> None:
        """Take the entry out of view in one rename, then delete it."""
        with self._lock:
            self._index.pop(model_id, None)
        folder = self.folder(model_id)
        trash = folder.with_name(f".{model_id}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            os.rename(folder, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _drop_corrupt(self, model_id: str, why: str) -> None:
        log.warning("cache entry %s is corrupt (%s): removed, it will be rebuilt", model_id, why)
        self.corrupt += 1
        self.remove(model_id)

    # -- size cap ---------------------------------------------------------------------------------------------
    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for size, _ in self._index.values())

    @property
    def entries(self) -> int:
        with self._lock:
            return len(self._index)

    def _evict(self, keep: str | None = None) -> None:
        """Remove least recently used entries until the total fits ``max_bytes`` (the entry just written stays)."""
        while True:
            with self._lock:
                total = sum(size for size, _ in self._index.values())
                candidates = [(used, key) for key, (_, used) in self._index.items() if key != keep]
                if total <= self.max_bytes or not candidates:
                    return
                _, oldest = min(candidates)
            self.remove(oldest)
            self.evictions += 1


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
