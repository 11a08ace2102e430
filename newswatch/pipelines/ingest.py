"""The Beam graph: entries -> fetch -> extract -> enrich -> index, with a dead-letter output.

Every stage emits failures on the ``dead`` tagged output as error records; they are flattened and written
to the errors index. If Elasticsearch cannot be reached at the index stage, the finished documents are
spooled to disk (``$NEWSWATCH_HOME/spool``) and replayed by the next run, so nothing fetched is lost.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import uuid
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from ..settings import Settings
from . import cpu_pool
from ..connectors.es import error_record
from .stages import DEAD, MAIN, analyze_page, analyze_pages, dead_letter, now

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
            for counter in self.passed.values():
                counter.inc()
            return value
        for stage in self.stages[:self.stages.index(value["stage"])] if value.get("stage") in self.stages else ():
            self.passed[stage].inc()
        self.failed.inc()
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
        return MAIN, {**entry, "url": resp.url, "html": resp.body, "charset": resp.charset, "fetched_at": now()}


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
            yield self._out(*self.fn(element, *self.args))
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

    def _alone(self, element) -> tuple[str, dict]:
        try:
            return cpu_pool.submit(self.workers, self.fn, element, *self.args).result()
        except cpu_pool.BrokenProcessPool as again:
            return DEAD, dead_letter(self.stages[0], element, f"the worker process died on this page, twice: "
                                                              f"{again}", "worker_died")
        except Exception as again:
            return DEAD, dead_letter(self.stages[0], element, f"{type(again).__name__}: {again}", "worker_error")


class Spool:
    """Append-only JSONL files for documents that could not be written to Elasticsearch."""

    _lock = threading.Lock()

    def __init__(self, settings: Settings, kind: str):
        self.dir = Path(settings.home) / "spool" / settings.index_prefix
        self.kind = kind

    def write(self, docs: list[dict]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        with self._lock, open(path, "w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def files(self) -> list[Path]:
        return sorted(self.dir.glob(f"{self.kind}-*.jsonl")) if self.dir.is_dir() else []


class BulkIndex(beam.DoFn):
    """Buffer documents and write them with ``helpers.streaming_bulk``; per-item failures go to dead letters."""

    def __init__(self, settings: Settings, index_kind: str = "stories", counter: str = "indexed"):
        self.settings = settings
        self.index_kind = index_kind
        self.ok = Metrics.counter(NS, counter)
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
        by_id = {d["_id"]: d for d in docs}
        for f in failures:
            self.failed.inc()
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


ENTRIES_PER_FILE = 500


def stage_entries(entries: list[dict], settings: Settings) -> list[str]:
    """Write the run's entries as JSON-lines files (``ENTRIES_PER_FILE`` each) under the staging directory.

    Beam would otherwise carry them inside the pipeline definition: ``Create`` pickles and bz2-compresses its
    elements every time the pipeline is translated (twice per run), about 0.2 s per 1,000 entries of the flow
    process, before the first page is fetched. Files also let the runner's workers read them in parallel.
    """
    from apache_beam.io.filesystems import FileSystems

    from ..connectors.polite import interleave_by_host

    entries = interleave_by_host(entries)  # so that fetching spreads over the hosts from the start
    base = FileSystems.join(settings.effective_staging_dir, f"entries-{uuid.uuid4().hex[:12]}")
    if "://" not in base:
        os.makedirs(os.path.dirname(base), exist_ok=True)
    paths = []
    for k in range(0, len(entries), ENTRIES_PER_FILE):
        path = f"{base}-{k // ENTRIES_PER_FILE:05d}.jsonl"
        with FileSystems.create(path) as fh:
            fh.write("".join(json.dumps(e) + "\n" for e in entries[k:k + ENTRIES_PER_FILE]).encode("utf-8"))
        paths.append(path)
    return paths


def unstage(paths: list[str]) -> None:
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.delete(paths)
    except Exception as exc:  # the entries are re-derived from the feeds by the next run anyway
        log.warning("could not remove staged entry files %s: %s", paths[:1], exc)


def read_entries(path: str):
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as fh:
        for line in fh.read().decode("utf-8").splitlines():
            if line:
                yield json.loads(line)


def build_pipeline(p: beam.Pipeline, entry_files: list[str], settings: Settings):
    """Attach the ingest graph to ``p``; returns the PCollection of indexed story ids."""
    entries_ = p | "EntryFiles" >> beam.Create(entry_files, reshuffle=False) \
        | "ReadEntries" >> beam.FlatMap(read_entries)
    if not settings.cpu_workers:
        # spread the entries over the runner's workers; with one in-process Beam worker (which hands the CPU
        # work to its extraction processes) a reshuffle would only hold a second copy of every entry
        entries_ = entries_ | "Reshuffle" >> beam.Reshuffle()
    fetched = entries_ | "Fetch" >> beam.ParDo(Fetch(settings)).with_outputs(DEAD, main="pages")
    # extract and enrich in one step: Beam would fuse them anyway, and a page then makes one trip to a worker
    args = (settings.min_text_chars, settings.effective_rates_dir, settings.nlp_config)
    enriched = fetched.pages | "ExtractEnrich" >> beam.ParDo(CpuStage(
        settings, analyze_page, args, ("extract", "enrich"), analyze_pages)).with_outputs(DEAD, main="stories")
    indexed = enriched.stories | "Index" >> beam.ParDo(BulkIndex(settings)).with_outputs(DEAD, main="ids")
    dead = (fetched[DEAD], enriched[DEAD], indexed[DEAD]) | "DeadLetters" >> beam.Flatten()
    dead | "WriteErrors" >> beam.ParDo(WriteErrors(settings))
    return indexed.ids


# The runner when none is named: Beam's in-process portable runner. It is what ``DirectRunner`` runs a batch
# pipeline like this one on, but ``DirectRunner`` first tries Beam's Prism runner, which it downloads from GitHub
# at run time when it is not installed (here: a failed download on every run), and first walks the graph twice to
# see which runner supports it: about 0.3 s of this process's CPU a run. ``--runner=DirectRunner`` still does that.
DEFAULT_RUNNER = "FnApiRunner"
IN_PROCESS_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "FnApiRunner")  # run the Beam worker in this process


def runner_name(beam_args: list[str] | None) -> str:
    """The runner ``beam_args`` name (its class name), or :data:`DEFAULT_RUNNER`."""
    from apache_beam.options.pipeline_options import StandardOptions

    runner = PipelineOptions(beam_args or []).view_as(StandardOptions).runner or DEFAULT_RUNNER
    return (runner if isinstance(runner, str) else type(runner).__name__).rsplit(".", 1)[-1]


def with_default_runner(beam_args: list[str]) -> list[str]:
    from apache_beam.options.pipeline_options import StandardOptions

    if PipelineOptions(beam_args).view_as(StandardOptions).runner:
        return beam_args
    return [*beam_args, f"--runner={DEFAULT_RUNNER}"]


def cpu_workers_for(settings: Settings, beam_args: list[str] | None) -> int:
    """Processes for extract/enrich: ``settings.cpu_workers`` if set; else (auto) one per core when the Beam
    worker runs in this process (the default runner or DirectRunner, in memory or multi-threaded; FlinkRunner's
    LOOPBACK harness), and none when the runner already starts a worker process per core (``multi_processing``
    running mode, PROCESS or DOCKER harnesses, Dataflow)."""
    if settings.cpu_workers is not None:
        return max(0, settings.cpu_workers)
    from apache_beam.options.pipeline_options import DirectOptions, PortableOptions

    options = PipelineOptions(beam_args or [])
    if runner_name(beam_args) in IN_PROCESS_RUNNERS:
        in_process = options.view_as(DirectOptions).direct_running_mode != "multi_processing"
    else:
        in_process = (options.view_as(PortableOptions).environment_type or "").upper() == "LOOPBACK"
    import multiprocessing

    cores = cpu_pool.available_cores()
    usable = cores > 1 and "forkserver" in multiprocessing.get_all_start_methods()  # not on Windows
    return cores if in_process and usable else 0


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
