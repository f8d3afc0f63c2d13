"""The bounded worker pool: CPU-bound work (decoding, the VGG and meta network, conversion, verification) runs on
``workers`` threads with at most ``queue`` more jobs waiting; beyond that ``submit`` raises Busy (HTTP 503 with
Retry-After) at once instead of piling requests up. Jobs with the same key share one run (single flight): a burst of
uploads of one new style builds it once.

Threads, not processes: torch, onnxruntime and LiteRT release the GIL in their kernels, and one copy of the VGG
and meta network (~100 MB) serves every worker. Each worker thread runs its torch ops on one intra-op thread, so
N workers use N cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import torch

from mobilestyle.serve.errors import Busy

T = TypeVar("T")


def _single_threaded_torch() -> None:
    torch.set_num_threads(1)


class WorkPool:
    def __init__(self, workers: int, queue: int, retry_after_s: int = 2) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers >= 1 and queue >= 0")
        self.workers = workers
        self.capacity = workers + queue
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="mobilestyle-worker", initializer=_single_threaded_torch
        )
        self._lock = threading.Lock()
        self._pending = 0  # running + waiting
        self._running = 0
        self._by_key: dict[str, Future[Any]] = {}
        self.rejected = 0

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def running(self) -> int:
        return self._running

    def submit(self, fn: Callable[[], T], key: str | None = None) -> Future[T]:
        """Run ``fn`` on a worker; a job already queued or running under ``key`` is joined instead. Raises Busy when full."""
        with self._lock:
            if key is not None and key in self._by_key:
                return self._by_key[key]
            if self._pending >= self.capacity:
                self.rejected += 1
                raise Busy(f"the service is busy ({self._pending} jobs running or queued); retry shortly", self.retry_after_s)
            self._pending += 1
            future: Future[T] = self._executor.submit(self._run, fn, key)
            if key is not None:
                self._by_key[key] = future
            return future

    def _run(self, fn: Callable[[], T], key: str | None) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn()
        finally:
            with self._lock:
                self._running -= 1
                self._pending -= 1
                if key is not None:
                    self._by_key.pop(key, None)

    def shutdown(self, wait: bool = True) -> None:
        """Finish the jobs already accepted (``wait``), accept no more."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
