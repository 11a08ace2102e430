"""The index stage: story documents -> Elasticsearch in bulk; dead letters -> the errors index. When
Elasticsearch cannot be reached the documents are spooled to disk (:mod:`.spool`) and replayed by the next run."""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from .. import progress
from ..schemas.records import error_record
from ..settings import Settings
from .outputs import DEAD, NS, dead_letter, windowed
from .spool import Spool

log = logging.getLogger(__name__)


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
            yield windowed(out)

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
