"""Start-up work that makes a run fast, in one place: what the first run of a process would otherwise wait for
is begun in the background while the feeds are polled (mostly waiting on the network). What each one is worth:
docs/performance.md."""
from __future__ import annotations

import gc

from ..settings import Settings
from . import cpu_pool
from .runner import cpu_workers_for

_heap_frozen = False


def warm_up(settings: Settings, beam_args: list[str] | None = None) -> int:
    """Freeze the start-up heap and start the extraction workers, before the feeds are polled; returns how many."""
    freeze_startup_heap()
    return start_workers(settings, beam_args)


def start_workers(settings: Settings, beam_args: list[str] | None = None) -> int:
    """The extraction worker processes start (imports, warm code) while the caller goes on; a no-op when running.
    Returns how many there are (0: extraction runs in the Beam worker)."""
    workers = cpu_workers_for(settings, beam_args)
    cpu_pool.prewarm(workers)
    return workers


def freeze_startup_heap() -> None:
    """Hide the objects alive at the first run's start (imported modules) from the garbage collector, once per
    process, so full collections during a run do not walk them."""
    global _heap_frozen
    if not _heap_frozen:
        gc.freeze()
        _heap_frozen = True
