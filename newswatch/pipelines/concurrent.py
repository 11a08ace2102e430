"""The DoFns that work on several elements at once: threads for fetching (:mod:`.fetch`), the extraction worker
processes for the CPU stages (:class:`CpuStage`, running :mod:`.extract` and :mod:`.enrich`)."""
from __future__ import annotations

import logging
import queue

import apache_beam as beam
from apache_beam.metrics import Metrics

from .. import progress
from ..settings import Settings
from . import cpu_pool
from .outputs import DEAD, MAIN, NS, dead_letter, windowed

log = logging.getLogger(__name__)


class Concurrent(beam.DoFn):
    """Base of the stages that work on several elements at once (threads for fetching, processes for CPU).

    ``process`` submits the element and emits whatever has finished, in completion order, so one slow page
    never holds up the others; with ``limit`` elements in flight it waits for one to finish (bounded memory).
    ``finish_bundle`` waits for the rest. Subclasses say how to submit an element and how to turn a finished
    one into an output (``(MAIN, value)`` or ``(DEAD, error record)``).
    """

    COUNTERS = {"fetch": "fetched", "extract": "extracted", "enrich": "enriched"}
    limit = 16

    def __init__(self, settings: Settings, stages: tuple[str, ...]):
        self.settings = settings
        self.stages = stages  # what an element goes through here; each stage has its counter
        self.passed = {s: Metrics.counter(NS, self.COUNTERS[s]) for s in stages}
        self.failed = Metrics.counter(NS, "failed")

    def start_bundle(self):
        self.pending = 0
        self.finished: queue.SimpleQueue = queue.SimpleQueue()

    def process(self, element):
        self._enqueue(element)
        while True:  # emit what has finished; wait only when ``limit`` elements are in flight
            try:
                item = self.finished.get(block=self.pending >= self.limit)
            except queue.Empty:
                return
            yield from self._emit(*item)

    def finish_bundle(self):
        self._flush()
        while self.pending:
            for out in self._emit(*self.finished.get()):
                yield windowed(out)

    def _enqueue(self, element):
        future = self._submit(element)
        self.pending += 1
        future.add_done_callback(lambda f: self.finished.put((element, f)))

    def _flush(self):
        """Submit anything held back (a subclass that batches)."""

    def _emit(self, element, future):
        self.pending -= 1
        yield self._out(*self._result(element, future))

    def _submit(self, element):
        raise NotImplementedError

    def _result(self, element, future) -> tuple[str, dict]:
        raise NotImplementedError

    def _out(self, tag: str, value: dict):
        """Count the element and route it: main output, or dead letters (after the stages it got through)."""
        if tag == MAIN:
            for stage, counter in self.passed.items():
                counter.inc()
                progress.bump(self.COUNTERS[stage])
            return value
        for stage in self.stages[:self.stages.index(value["stage"])] if value.get("stage") in self.stages else ():
            self.passed[stage].inc()
            progress.bump(self.COUNTERS[stage])
        self.failed.inc()
        progress.bump("failed")
        return beam.pvalue.TaggedOutput(DEAD, value)


class CpuStage(Concurrent):
    """Run a pure stage function of :mod:`.extract` and :mod:`.enrich` on every element: in the extraction worker processes
    (``settings.cpu_workers`` > 0), or inline.

    Elements go to the workers in batches of ``BATCH`` (one trip each way per batch), with up to
    ``16 x workers + 16`` elements in flight; results are emitted as batches finish. ``stages`` names the stages
    the function goes through (``analyze_page``: extract, then enrich); each has its counter (extracted,
    enriched), and a dead letter's ``stage`` says how far the element got. A worker process that dies (killed,
    out of memory) takes the elements in flight with it: each is run again alone on a new pool, and one that
    kills that one too is a dead letter.
    """

    BATCH = 8

    def __init__(self, settings: Settings, fn, args: tuple, stages: tuple[str, ...], batch_fn=None):
        super().__init__(settings, stages)
        self.fn = fn
        self.args = args
        self.batch_fn = batch_fn  # fn over a list of elements at once (else fn on each)

    def setup(self):
        self.workers = self.settings.cpu_workers or 0
        # enough queued work to keep the workers busy while this thread waits on a bulk request (~0.1 s)
        self.limit = 16 * self.workers + 16

    def start_bundle(self):
        super().start_bundle()
        self.batch: list = []

    def process(self, element):
        if not self.workers:
            yield self._out(*self._inline(element))
            return
        yield from super().process(element)

    def _enqueue(self, element):
        self.batch.append(element)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self):
        batch, self.batch = self.batch, []
        if not batch:
            return
        if self.batch_fn is not None:
            future = cpu_pool.submit(self.workers, self.batch_fn, batch, *self.args)
        else:
            future = cpu_pool.submit(self.workers, cpu_pool.run_each, self.fn, batch, self.args)
        self.pending += len(batch)
        future.add_done_callback(lambda f: self.finished.put((batch, f)))

    def _emit(self, batch, future):
        self.pending -= len(batch)
        try:
            results = future.result()
        except cpu_pool.BrokenProcessPool as exc:
            # a worker died (killed, out of memory) and every element in flight failed with it: run each of
            # these again, alone on a new pool, so a second death can only be the element's own doing
            log.error("an extraction worker process died (%s); running %d pages again one by one", exc, len(batch))
            results = [self._alone(element) for element in batch]
        except Exception as exc:  # e.g. a result that cannot be pickled: each element on its own
            log.error("a batch of %d pages failed in the worker (%s: %s); running them one by one", len(batch),
                      type(exc).__name__, exc)
            results = [self._alone(element) for element in batch]
        for result in results:
            yield self._out(*result)

    def _inline(self, element) -> tuple[str, dict]:
        try:
            return self.fn(element, *self.args)
        except Exception as exc:  # a stage function's bug is one page's dead letter, as in a worker, not the run's end
            return DEAD, dead_letter(self.stages[0], element, f"{type(exc).__name__}: {exc}", "stage_exception")

    def _alone(self, element) -> tuple[str, dict]:
        try:
            return cpu_pool.submit(self.workers, self.fn, element, *self.args).result()
        except cpu_pool.BrokenProcessPool as again:
            return DEAD, dead_letter(self.stages[0], element, f"the worker process died on this page, twice: "
                                                              f"{again}", "worker_died")
        except Exception as again:  # noqa: BLE001 - what the worker raised, as the stage's dead letter
            return DEAD, dead_letter(self.stages[0], element, f"{type(again).__name__}: {again}", "worker_error")
