"""The Beam graph: entries -> fetch -> extract -> enrich -> index, with a dead-letter output.

Every stage emits failures on the ``dead`` tagged output as error records; they are flattened and written
to the errors index. If Elasticsearch cannot be reached at the index stage, the finished documents are
spooled to disk (``$NEWSWATCH_HOME/spool``) and replayed by the next run, so nothing fetched is lost.
"""
from __future__ import annotations

import logging
import queue

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from .. import progress
from ..schemas.records import error_record, now_iso
from ..settings import Settings
from . import cpu_pool
from .runner import cpu_workers_for, read_entries, stage_entries, unstage, with_default_runner
from .spool import Spool
from .budget import PageBudget
from .stages import DEAD, MAIN, analyze_page, analyze_pages, dead_letter

log = logging.getLogger(__name__)
NS = "newswatch"
COUNTERS = ("fetched", "extracted", "enriched", "indexed", "failed", "spooled")


def _windowed(out):
    """An output of ``finish_bundle``, which has no element to take its window from: the global window."""
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    if isinstance(out, beam.pvalue.TaggedOutput):
        return beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, 0, [GlobalWindow()]))
    return WindowedValue(out, 0, [GlobalWindow()])


class _Concurrent(beam.DoFn):
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
                yield _windowed(out)

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


class Fetch(_Concurrent):
    """Fetch story pages politely (:mod:`newswatch.connectors.polite`: robots.txt, at most
    ``per_host_concurrency`` requests to a host at once, ``per_host_delay`` apart, ``fetch_concurrency`` in all),
    with the SSRF guard and size/time limits."""

    def __init__(self, settings: Settings):
        super().__init__(settings, ("fetch",))

    def setup(self):
        from ..connectors.http import Fetcher
        from ..connectors.polite import PoliteFetcher

        # entries come interleaved by host (stage_entries): a window of 4 x the fetch threads spans the hosts
        self.limit = 4 * max(1, self.settings.fetch_concurrency)
        self.fetcher = PoliteFetcher(Fetcher(self.settings))

    def teardown(self):
        self.fetcher.shutdown()

    def _submit(self, entry):
        return self.fetcher.submit(entry["link"])

    def _result(self, entry, future) -> tuple[str, dict]:
        from ..connectors.http import FetchError

        try:
            resp = future.result()
        except FetchError as exc:
            return DEAD, dead_letter("fetch", entry, exc.reason, exc.kind, exc.status)
        except Exception as exc:  # anything unexpected is still a recorded failure, not a crash
            return DEAD, dead_letter("fetch", entry, f"{type(exc).__name__}: {exc}", "fetch_exception")
        return MAIN, {**entry, "url": resp.url, "html": resp.body, "charset": resp.charset, "fetched_at": now_iso()}


class CpuStage(_Concurrent):
    """Run a pure stage function of :mod:`.stages` on every element: in the extraction worker processes
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


class BulkIndex(beam.DoFn):
    """Buffer documents and write them with ``helpers.streaming_bulk``; per-item failures go to dead letters."""

    def __init__(self, settings: Settings, index_kind: str = "stories", counter: str = "indexed"):
        self.settings = settings
        self.index_kind = index_kind
        self.ok = Metrics.counter(NS, counter)
        self.counter = counter
        self.failed = Metrics.counter(NS, "failed")
        self.spooled = Metrics.counter(NS, "spooled")
        self.ner_fallback = Metrics.counter(NS, "ner_fallback")

    def setup(self):
        from ..connectors.es import make_client

        self.es = make_client(self.settings)
        self.ner_reported = False

    def start_bundle(self):
        self.buffer: list[dict] = []

    def process(self, doc: dict):
        ner_error = doc.pop("_ner_error", None)
        if ner_error is not None:
            self.ner_fallback.inc()
            if not self.ner_reported:  # one record per run (the record's id is the same for every worker)
                self.ner_reported = True
                yield beam.pvalue.TaggedOutput(DEAD, error_record(
                    "enrich", f"the NER service failed ({ner_error['reason']}); stories of this run were enriched "
                              f"with the gazetteer and rules only (ner: rules): run `newswatch es reenrich` once "
                              f"it is back", feed=self.settings.effective_nlp_url, error_type="ner_unavailable",
                    run_id=ner_error.get("run_id")))
        self.buffer.append(doc)
        if len(self.buffer) >= self.settings.es_bulk_size:
            yield from self._flush()

    def finish_bundle(self):
        for out in self._flush():
            yield _windowed(out)

    def _flush(self):
        from elasticsearch import ApiError, TransportError

        from ..connectors.es import bulk_write

        docs, self.buffer = self.buffer, []
        if not docs:
            return
        index = self.settings.index(self.index_kind)
        try:
            ok_ids, failures = bulk_write(self.es, index, docs, chunk_size=self.settings.es_bulk_size)
        except (TransportError, ApiError, ConnectionError, OSError) as exc:
            path = Spool(self.settings, self.index_kind).write(docs)
            self.spooled.inc(len(docs))
            log.error("Elasticsearch write failed (%s); %d documents spooled to %s", exc, len(docs), path)
            for d in docs:
                yield beam.pvalue.TaggedOutput(DEAD, {**dead_letter("index", d, f"Elasticsearch unavailable, "
                                                                        f"document spooled to {path}: {exc}",
                                                              "es_unavailable"), "_spooled": True})
            return
        self.ok.inc(len(ok_ids))
        progress.bump(self.counter, len(ok_ids))
        by_id = {d["_id"]: d for d in docs}
        for f in failures:
            self.failed.inc()
            progress.bump("failed")
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter("index", by_id.get(f["_id"], {"id": f["_id"]}),
                                                       f"bulk item rejected ({f['status']}): {f['reason']}",
                                                       f["error_type"], f["status"]))
        yield from ok_ids


class WriteErrors(beam.DoFn):
    """Write dead letters to the errors index; spool them if ES is down."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def setup(self):
        from ..connectors.es import make_client

        self.es = make_client(self.settings)

    def start_bundle(self):
        self.buffer = []

    def process(self, record: dict):
        self.buffer.append({k: v for k, v in record.items() if not k.startswith("_") or k == "_id"})

    def finish_bundle(self):
        from ..connectors.es import bulk_write

        if not self.buffer:
            return
        try:
            bulk_write(self.es, self.settings.index("errors"), self.buffer)
        except Exception as exc:  # ES down: keep the records for the next run
            Spool(self.settings, "errors").write(self.buffer)
            log.error("could not write %d error records (%s); spooled", len(self.buffer), exc)
        self.buffer = []


class IngestStories(beam.PTransform):
    """Feed entries -> fetch -> extract and enrich -> index; expands to ``{"ids": indexed, "dead": error records}``.

    ``fetch`` and ``sink`` are DoFns with a main output and a ``DEAD`` tagged one (by default the polite fetcher
    and the bulk writer), so the graph runs as it is over pages and a sink of a test's choosing.
    """

    def __init__(self, settings: Settings, fetch: beam.DoFn | None = None, sink: beam.DoFn | None = None):
        super().__init__()
        self.settings = settings
        self.fetch = fetch or Fetch(settings)
        self.sink = sink or BulkIndex(settings)

    def expand(self, entries):
        s = self.settings
        if not s.cpu_workers:
            # spread the entries over the runner's workers; with one in-process Beam worker (which hands the CPU
            # work to its extraction processes) a reshuffle would only hold a second copy of every entry
            entries = entries | "Reshuffle" >> beam.Reshuffle()
        fetched = entries | "Fetch" >> beam.ParDo(self.fetch).with_outputs(DEAD, main="pages")
        # extract and enrich in one step: Beam would fuse them anyway, and a page then makes one trip to a worker
        args = (s.min_text_chars, s.effective_rates_dir, s.nlp_config, PageBudget.from_settings(s))
        enriched = fetched.pages | "ExtractEnrich" >> beam.ParDo(CpuStage(
            s, analyze_page, args, ("extract", "enrich"), analyze_pages)).with_outputs(DEAD, main="stories")
        indexed = enriched.stories | "Index" >> beam.ParDo(self.sink).with_outputs(DEAD, main="ids")
        dead = (fetched[DEAD], enriched[DEAD], indexed[DEAD]) | "DeadLetters" >> beam.Flatten()
        return {"ids": indexed.ids, "dead": dead}


def build_pipeline(p: beam.Pipeline, entry_files: list[str], settings: Settings):
    """Attach the ingest graph to ``p``, reading the staged entry files; returns the indexed story ids."""
    entries = p | "EntryFiles" >> beam.Create(entry_files, reshuffle=False) \
        | "ReadEntries" >> beam.FlatMap(read_entries)
    out = entries | "Ingest" >> IngestStories(settings)
    out["dead"] | "WriteErrors" >> beam.ParDo(WriteErrors(settings))
    return out["ids"]


def run_pipeline(entries: list[dict], settings: Settings, beam_args: list[str] | None = None) -> dict:
    """Run the graph over ``entries`` (dicts from :class:`newswatch.connectors.feeds.Entry` + run_id/feeds)."""
    counts = dict.fromkeys(COUNTERS, 0)
    if not entries:
        return counts
    from ..connectors.flink_local import prepare

    args = with_default_runner(prepare(settings, beam_args or []))
    settings = settings.with_(cpu_workers=cpu_workers_for(settings, args))
    cpu_pool.prewarm(settings.cpu_workers)
    options = PipelineOptions(args)
    entry_files = stage_entries(entries, settings)
    try:
        with beam.Pipeline(options=options) as p:
            build_pipeline(p, entry_files, settings)
    finally:
        unstage(entry_files)
    result = p.result
    for c in result.metrics().query(MetricsFilter().with_namespace(NS))["counters"]:
        name = c.key.metric.name
        value = c.committed if c.committed is not None else c.attempted
        counts[name] = counts.get(name, 0) + (value or 0)
    return counts
