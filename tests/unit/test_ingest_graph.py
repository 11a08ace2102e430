"""The ingest graph as a composite transform, run with Beam's TestPipeline over pages held in memory and a sink of
the test's own: no Elasticsearch, no HTTP."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to, is_not_empty

from newswatch.connectors.feeds import canonicalize, story_id
from newswatch.pipelines.ingest import IngestStories
from newswatch.pipelines.outputs import DEAD, dead_letter
from newswatch.settings import Settings

BASE = "https://news.example/articles/"


class PagesInMemory(beam.DoFn):
    """The fetch stage over a dict of pages: a missing one is a 404 dead letter, as the real fetcher records it."""

    def __init__(self, pages: dict[str, bytes]):
        self.pages = pages

    def process(self, entry):
        body = self.pages.get(entry["link"])
        if body is None:
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter("fetch", entry, "HTTP 404", "http_error", 404))
            return
        yield {**entry, "url": entry["link"], "html": body, "charset": None, "fetched_at": "2026-12-02T10:00:00+00:00"}


class KeepStories(beam.DoFn):
    """The index stage's contract (stories in; indexed ids out, failures as dead letters) without a store."""

    def process(self, doc):
        yield doc["_id"]


def _entry(name: str) -> dict:
    url = BASE + name
    canonical = canonicalize(url)
    return {"id": story_id(canonical), "link": url, "canonical_url": canonical, "title": None,
            "published_at": None, "author": None, "feeds": ["https://news.example/feed"], "run_id": "run-1",
            "source_name": "News Example", "feed_title": None, "source_tags": [], "lang": None}


def test_graph_turns_pages_into_documents_and_failures_into_dead_letters(fixtures_dir, gold):
    names = sorted(gold["articles"])[:3]
    pages = {BASE + n: (fixtures_dir / "articles" / n).read_bytes() for n in names}
    pages[BASE + "empty.html"] = b"<html><body><nav>Home</nav></body></html>"
    entries = [_entry(n) for n in names] + [_entry("empty.html"), _entry("gone.html")]
    settings = Settings.from_env().with_(cpu_workers=0, ner="rules")
    ok_ids = [e["id"] for e in entries[:3]]

    with BeamTestPipeline() as p:
        out = p | beam.Create(entries) | IngestStories(settings, fetch=PagesInMemory(pages), sink=KeepStories())
        assert_that(out["ids"], equal_to(ok_ids), label="indexed")
        assert_that(out["dead"] | "Where" >> beam.Map(lambda r: (r["stage"], r["url"].rsplit("/", 1)[-1],
                                                                  r["error_type"])),
                    equal_to([("extract", "empty.html", "no_text"), ("fetch", "gone.html", "http_error")]),
                    label="dead")


def test_documents_carry_what_the_story_builder_made_of_each_page(fixtures_dir, gold):
    name = next(n for n, a in sorted(gold["articles"].items()) if a.get("finance"))
    pages = {BASE + name: (fixtures_dir / "articles" / name).read_bytes()}
    settings = Settings.from_env().with_(cpu_workers=0, ner="rules")

    class Docs(beam.DoFn):
        def process(self, doc):
            yield doc

    with BeamTestPipeline() as p:
        docs = p | beam.Create([_entry(name)]) | IngestStories(settings, fetch=PagesInMemory(pages), sink=Docs())
        summary = docs["ids"] | beam.Map(lambda d: (d["_id"], d["canonical_url"], d["ner"], bool(d["text"]),
                                                    bool(d["finance"]), d["source_name"]))
        assert_that(summary, equal_to([(_entry(name)["id"], BASE + name, "rules", True, True, "News Example")]))
        assert_that(docs["ids"] | beam.FlatMap(lambda d: d["countries"]), is_not_empty(), label="countries")


def _stage_bug(page, *args):
    raise UnicodeError("a codec that decodes nothing")


def test_a_stage_that_raises_inline_makes_a_dead_letter_not_a_failed_run():
    """Without extraction workers (cpu_workers=0) the stage runs in the Beam worker: an exception there is the
    page's dead letter, as it is when a worker process raises."""
    from newswatch.pipelines.concurrent import CpuStage

    settings = Settings.from_env().with_(cpu_workers=0, ner="rules")
    page = {**_entry("a.html"), "url": BASE + "a.html", "html": b"<p>x</p>", "charset": "undefined"}
    with BeamTestPipeline() as p:
        out = p | beam.Create([page]) | beam.ParDo(CpuStage(settings, _stage_bug, (), ("extract", "enrich"))) \
            .with_outputs(DEAD, main="stories")
        assert_that(out.stories, equal_to([]), label="none")
        assert_that(out[DEAD] | beam.Map(lambda r: (r["stage"], r["error_type"], r["reason"])),
                    equal_to([("extract", "stage_exception", "UnicodeError: a codec that decodes nothing")]),
                    label="dead")
