"""The Beam graph: entries -> fetch -> extract -> enrich -> index, with a dead-letter output.

Every stage emits failures on the ``dead`` tagged output as error records; they are flattened and written
to the errors index. If Elasticsearch cannot be reached at the index stage, the finished documents are
spooled to disk (``$NEWSWATCH_HOME/spool``) and replayed by the next run, so nothing fetched is lost.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from ..settings import Settings

log = logging.getLogger(__name__)
NS = "newswatch"
DEAD = "dead"
COUNTERS = ("fetched", "extracted", "enriched", "indexed", "failed", "spooled")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _dead(stage: str, element: dict, reason: str, kind: str | None = None, status: int | None = None) -> dict:
    from ..connectors.es import error_record

    return error_record(stage, reason, url=element.get("link") or element.get("url"),
                        feed=(element.get("feeds") or [None])[0], story_id=element.get("id"),
                        error_type=kind, http_status=status, run_id=element.get("run_id"))


class FetchBatch(beam.DoFn):
    """Fetch a batch of story pages concurrently (threads), with the SSRF guard and size/time limits."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.ok = Metrics.counter(NS, "fetched")
        self.failed = Metrics.counter(NS, "failed")

    def setup(self):
        from ..connectors.http import Fetcher

        self.fetcher = Fetcher(self.settings)
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.settings.fetch_concurrency))

    def teardown(self):
        self.pool.shutdown(wait=False)

    def _one(self, entry: dict):
        from ..connectors.http import FetchError

        try:
            resp = self.fetcher.get(entry["link"])
        except FetchError as exc:
            return None, _dead("fetch", entry, exc.reason, exc.kind, exc.status)
        except Exception as exc:  # anything unexpected is still a recorded failure, not a crash
            return None, _dead("fetch", entry, f"{type(exc).__name__}: {exc}", "fetch_exception")
        return {**entry, "url": resp.url, "html": resp.body, "charset": resp.charset,
                "fetched_at": _now()}, None

    def process(self, batch):
        from concurrent.futures import as_completed

        # hand each page downstream as soon as it arrives, while the rest of the batch is still downloading
        for future in as_completed([self.pool.submit(self._one, entry) for entry in batch]):
            page, dead = future.result()
            if dead:
                self.failed.inc()
                yield beam.pvalue.TaggedOutput(DEAD, dead)
            else:
                self.ok.inc()
                yield page


def _decode_html(body: bytes, declared: str | None) -> str | bytes:
    """Valid UTF-8 wins (declared charsets are often wrong), then the declared charset, then detection."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return body.decode(declared, errors="replace")
        except LookupError:
            pass
    return body  # trafilatura detects the encoding from the bytes and any <meta charset>


class Extract(beam.DoFn):
    """Main text and metadata with trafilatura."""

    def __init__(self, min_chars: int = 200):
        self.min_chars = min_chars
        self.ok = Metrics.counter(NS, "extracted")
        self.failed = Metrics.counter(NS, "failed")

    def process(self, page: dict):
        from ..extraction import html_to_article

        html = _decode_html(page.pop("html"), page.pop("charset", None))
        try:
            article = html_to_article(html, url=page["url"])
        except Exception as exc:
            self.failed.inc()
            yield beam.pvalue.TaggedOutput(DEAD, _dead("extract", page, f"{type(exc).__name__}: {exc}",
                                                       "extract_exception"))
            return
        text = (article or {}).get("text") or ""
        if len(text.strip()) < self.min_chars:
            self.failed.inc()
            yield beam.pvalue.TaggedOutput(DEAD, _dead(
                "extract", page, f"no extractable main text ({len(text.strip())} characters found, "
                                 f"at least {self.min_chars} needed)", "no_text"))
            return
        self.ok.inc()
        page["article"] = article
        yield page


def _parse_date(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def build_story(page: dict) -> dict:
    """Enrich one extracted page into a validated Story document (dict with ``_id``)."""
    from urllib.parse import urlsplit

    from ..extraction import EXTRACTION_VERSION, extract
    from ..schemas.story import Story

    art = page["article"]
    title = art.get("title") or page.get("title") or ""
    text = art.get("text") or ""
    published = _parse_date(art.get("date")) or _parse_date(page.get("published_at"))
    site = art.get("sitename") or urlsplit(page["url"]).hostname
    facts = extract(title, text, published=published.date() if published else None, site=site,
                    lang=art.get("lang"))
    usd = [m.usd for m in facts.finance if m.usd is not None]
    story = Story(
        id=page["id"], url=page["url"], canonical_url=page["canonical_url"], feeds=sorted(set(page["feeds"])),
        site=site, title=title or None, text=text, author=art.get("author") or page.get("author"),
        lang=art.get("lang"), published_at=published, fetched_at=page["fetched_at"], ingested_at=_now(),
        countries=facts.countries, regions=facts.regions, orgs=facts.orgs, people=facts.people,
        entities=facts.entities, finance=facts.finance, finance_usd_max=max(usd) if usd else None,
        finance_usd_total=round(sum(usd), 2) if usd else None,
        finance_kinds=sorted({m.kind for m in facts.finance}),
        lenders=sorted({m.lender for m in facts.finance if m.lender}),
        recipients=sorted({m.recipient for m in facts.finance if m.recipient}),
        extraction_version=EXTRACTION_VERSION,
    )
    doc = story.model_dump(mode="json")
    doc["_id"] = doc["id"]
    return doc


class Enrich(beam.DoFn):
    def __init__(self):
        self.ok = Metrics.counter(NS, "enriched")
        self.failed = Metrics.counter(NS, "failed")

    def process(self, page: dict):
        try:
            doc = build_story(page)
        except Exception as exc:
            self.failed.inc()
            yield beam.pvalue.TaggedOutput(DEAD, _dead("enrich", page, f"{type(exc).__name__}: {exc}",
                                                       "enrich_exception"))
            return
        self.ok.inc()
        yield doc


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

    def setup(self):
        from ..connectors.es import make_client

        self.es = make_client(self.settings)

    def start_bundle(self):
        self.buffer: list[dict] = []

    def process(self, doc: dict):
        self.buffer.append(doc)
        if len(self.buffer) >= self.settings.es_bulk_size:
            yield from self._flush()

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindow
        from apache_beam.utils.windowed_value import WindowedValue

        for out in self._flush():
            if isinstance(out, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, 0, [GlobalWindow()]))
            else:
                yield WindowedValue(out, 0, [GlobalWindow()])

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
                yield beam.pvalue.TaggedOutput(DEAD, {**_dead("index", d, f"Elasticsearch unavailable, "
                                                                        f"document spooled to {path}: {exc}",
                                                              "es_unavailable"), "_spooled": True})
            return
        self.ok.inc(len(ok_ids))
        by_id = {d["_id"]: d for d in docs}
        for f in failures:
            self.failed.inc()
            yield beam.pvalue.TaggedOutput(DEAD, _dead("index", by_id.get(f["_id"], {"id": f["_id"]}),
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


def build_pipeline(p: beam.Pipeline, entries: list[dict], settings: Settings):
    """Attach the ingest graph to ``p``; returns the PCollection of indexed story ids."""
    fetched = (
        p
        | "Entries" >> beam.Create(entries, reshuffle=False)
        | "Reshuffle" >> beam.Reshuffle()
        | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(1, settings.fetch_concurrency))
        | "Fetch" >> beam.ParDo(FetchBatch(settings)).with_outputs(DEAD, main="pages")
    )
    extracted = fetched.pages | "Extract" >> beam.ParDo(Extract(settings.min_text_chars)).with_outputs(DEAD, main="articles")
    enriched = extracted.articles | "Enrich" >> beam.ParDo(Enrich()).with_outputs(DEAD, main="stories")
    indexed = enriched.stories | "Index" >> beam.ParDo(BulkIndex(settings)).with_outputs(DEAD, main="ids")
    dead = (fetched[DEAD], extracted[DEAD], enriched[DEAD], indexed[DEAD]) | "DeadLetters" >> beam.Flatten()
    dead | "WriteErrors" >> beam.ParDo(WriteErrors(settings))
    return indexed.ids


def run_pipeline(entries: list[dict], settings: Settings, beam_args: list[str] | None = None) -> dict:
    """Run the graph over ``entries`` (dicts from :class:`newswatch.connectors.feeds.Entry` + run_id/feeds)."""
    counts = dict.fromkeys(COUNTERS, 0)
    if not entries:
        return counts
    from ..connectors.flink_local import prepare

    options = PipelineOptions(prepare(settings, beam_args or []))
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, entries, settings)
    result = p.result
    for c in result.metrics().query(MetricsFilter().with_namespace(NS))["counters"]:
        name = c.key.metric.name
        value = c.committed if c.committed is not None else c.attempted
        counts[name] = counts.get(name, 0) + (value or 0)
    return counts
