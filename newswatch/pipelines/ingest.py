"""The Beam graph: entries -> fetch -> extract -> enrich -> index, with a dead-letter output.

Every stage emits failures on the ``dead`` tagged output as error records; they are flattened and written
to the errors index. Each stage is a module named after it (:mod:`.fetch`, :mod:`.extract`, :mod:`.enrich`,
:mod:`.index`); this one wires them and runs the graph.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from ..settings import Settings
from . import cpu_pool
from .budget import PageBudget
from .concurrent import CpuStage
from .enrich import analyze_page, analyze_pages
from .fetch import Fetch
from .index import BulkIndex, WriteErrors
from .outputs import DEAD, NS
from .runner import cpu_workers_for, read_entries, stage_entries, unstage, with_default_runner

COUNTERS = ("fetched", "extracted", "enriched", "indexed", "failed", "spooled")


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
