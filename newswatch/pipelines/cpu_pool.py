"""Processes for the CPU-bound stages (extract, enrich) of a Beam worker that runs in one Python process.

Beam's DirectRunner runs a pipeline in the calling process by default, and the FlinkRunner's LOOPBACK harness
runs it in the submitting process: one interpreter, one core at a time (the GIL), while extraction and
enrichment are pure Python/lxml CPU work. DirectRunner's ``multi_processing`` mode starts one SDK worker
process per core instead, but each worker imports Beam, trafilatura and the extraction tables on its own (about
2.5 s per run on 2 cores) and every element crosses gRPC. Here the DoFns instead hand their work to a pool of
warm processes: started from a *forkserver* that imported and warmed the extraction code once (so new workers
are forked ready, and no thread of the parent is ever forked), kept for the life of the process (``newswatch
serve`` reuses it from run to run), and started in the background when a flow begins.

The pool only runs pure functions (``page -> (tag, value)``); I/O stays in the DoFns. A worker that dies (killed,
out of memory) breaks the pool and fails every element in flight; the next :func:`get_pool` starts a new one,
and the DoFn runs each of those elements again alone, so only the one that kills a worker again is lost (as a
dead letter).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import budget

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}
_warm: set[int] = set()  # pool sizes whose processes are up
_starting: dict[int, threading.Event] = {}  # pool sizes being started by prewarm(); set when done (or failed)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of ``workers`` processes: created on first use, replaced if a worker died."""
    with _lock:
        pool = _pools.get(workers)
        if pool is not None and getattr(pool, "_broken", False):
            _warm.discard(workers)
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        if pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["newswatch.pipelines._preload"])
            pool = _pools[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                         initializer=budget.enter_worker)
        return pool


def prewarm(workers: int) -> None:
    """Start the pool's processes in the background (the forkserver imports take about a second)."""
    with _lock:
        if workers <= 0 or workers in _warm or (workers in _starting and not _starting[workers].is_set()):
            return
        done = _starting[workers] = threading.Event()

    def run():
        try:
            pool = get_pool(workers)
            for f in [pool.submit(os.getpid) for _ in range(workers)]:
                f.result()
            _warm.add(workers)
        except Exception as exc:  # the DoFns call get_pool() again when they need it; that one reports
            log.warning("could not start the extraction worker processes: %s", exc)
        finally:
            done.set()

    threading.Thread(target=run, name="newswatch-prewarm", daemon=True).start()


def submit(workers: int, fn, *args):
    """``fn(*args)`` on the pool of ``workers``; a pool that broke between :func:`get_pool` and the submission is
    replaced once."""
    try:
        return get_pool(workers).submit(fn, *args)
    except BrokenProcessPool:
        return get_pool(workers).submit(fn, *args)


_inline = threading.Lock()  # held by the call() that runs here while the pool is starting


def call(workers: int, fn, *args, wait: float = 1.0):
    """``fn(*args)`` in a worker process if the pool of ``workers`` is up, else right here.

    While :func:`prewarm` is starting the pool (about a second from scratch), calls run here one at a time (this
    process's core is otherwise idle meanwhile) and the others wait for their turn or for the pool, whichever
    comes first; after ``wait`` seconds without a pool, they all run here."""
    starting = _starting.get(workers)
    if workers > 0 and workers not in _warm and starting is not None:
        deadline = time.monotonic() + wait
        while not starting.is_set() and time.monotonic() < deadline:
            if _inline.acquire(timeout=0.005):
                try:
                    return fn(*args)
                finally:
                    _inline.release()
    if workers > 0 and workers in _warm:
        try:
            return submit(workers, fn, *args).result()
        except BrokenProcessPool:
            pass  # the next get_pool() replaces it
    return fn(*args)


def run_each(fn, elements: list, args: tuple) -> list:
    """``[fn(e, *args) for e in elements]``: a batch of elements makes one trip to a worker (each trip costs the
    submitting process about 0.4 ms of pickling, pipes and thread hand-offs)."""
    return [fn(e, *args) for e in elements]


__all__ = ["BrokenProcessPool", "available_cores", "call", "get_pool", "prewarm", "run_each", "submit"]
