"""Start-up work that makes a run fast, in one place: what the first run of a process would otherwise wait for
is begun in the background while the feeds are polled (mostly waiting on the network). What each one is worth:
docs/performance.md."""
from __future__ import annotations

import gc
import importlib
import threading

from ..settings import Settings
from . import cpu_pool
from .runner import cpu_workers_for, runner_name

_heap_frozen = False


def warm_up(settings: Settings, beam_args: list[str] | None = None) -> threading.Thread:
    """Freeze the start-up heap, start the extraction workers and import the Beam runner's modules; returns the
    import thread, to be joined before the pipeline starts."""
    freeze_startup_heap()
    start_workers(settings, beam_args)
    return preimport_runner(runner_name(beam_args))


def start_workers(settings: Settings, beam_args: list[str] | None = None) -> None:
    """The extraction worker processes start (imports, warm code) while the caller goes on; a no-op when running."""
    cpu_pool.prewarm(cpu_workers_for(settings, beam_args))


def freeze_startup_heap() -> None:
    """Hide the objects alive at the first run's start (imported modules) from the garbage collector, once per
    process, so full collections during a run do not walk them."""
    global _heap_frozen
    if not _heap_frozen:
        gc.freeze()
        _heap_frozen = True


def preimport_runner(runner: str) -> threading.Thread:
    """Import the modules the Beam runner loads when it starts, in the background. Join the thread before the
    pipeline starts: two threads importing the same modules from different ends could meet in an import cycle."""
    modules = ["apache_beam.runners.portability.fn_api_runner.fn_runner"]
    if runner in ("DirectRunner", "SwitchingDirectRunner"):
        modules[:0] = ["apache_beam.runners.direct.direct_runner", "apache_beam.runners.portability.prism_runner"]

    def run():
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - only a head start: the runner imports what it needs itself
                return

    thread = threading.Thread(target=run, name="newswatch-preimport", daemon=True)
    thread.start()
    return thread
