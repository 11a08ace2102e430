"""Feed links against a loopback site, the real fetcher, Prefect flow, Beam pipeline and Elasticsearch: stories a
feed lists by relative links are fetched and indexed; a private feed listed with credentials is fetched with
them, and they are stored, logged and shown nowhere."""
from __future__ import annotations

import base64
import hashlib
import json
import logging

import pytest

from newswatch.connectors.es import Indices, get_feed_states
from newswatch.sampleserver import RecordingSite, filler_page

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-Feed-Pa55"
AUTH = "Basic " + base64.b64encode(f"reader:{SECRET}".encode()).decode()

RELATIVE_RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Relative Wire</title>
<link>/</link>
<item><title>Rail loan</title><link>/stories/rail-loan.html</link></item>
<item><title>Solar plant</title><link>solar-plant.html</link></item>
</channel></rss>"""

BASE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/atom/">
<title>Based Digest</title><id>urn:based</id><updated>2024-05-02T09:00:00Z</updated>
<entry><title>Wheat exports</title><id>urn:b:1</id><updated>2024-05-02T09:00:00Z</updated>
<link href="wheat-exports.html"/></entry>
<entry xml:base="/atom/deep/"><title>Copper mine</title><id>urn:b:2</id><updated>2024-05-02T09:00:00Z</updated>
<link href="copper-mine.html"/></entry>
</feed>"""

PRIVATE_RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Private Wire</title>
<item><title>Gas deal</title><link>/private/gas-deal.html</link></item>
<item><title>Bank merger</title><link>bank-merger.html</link></item>
</channel></rss>"""


def _pages() -> dict[str, bytes]:
    paths = ["/stories/rail-loan.html", "/public/solar-plant.html", "/atom/wheat-exports.html",
             "/atom/deep/copper-mine.html", "/private/gas-deal.html", "/private/bank-merger.html"]
    return {p: filler_page(p.rsplit("/", 1)[1][:-5].replace("-", " ").title(), seed=i) for i, p in enumerate(paths)}


def _private(handler, n):
    if handler.headers.get("Authorization") != AUTH:
        return handler.send(401, b"who are you", "text/plain", {"WWW-Authenticate": 'Basic realm="feeds"'})
    if handler.headers.get("If-None-Match") == '"v1"':
        return handler.send(304, b"", "application/rss+xml")
    handler.send(200, PRIVATE_RSS, "application/rss+xml", {"ETag": '"v1"'})


def _private_down(handler, n):
    # the error message quotes the URL asked for: it must not bring the secret back
    handler.send(500, b"generator down", "text/plain")


@pytest.fixture()
def site():
    with RecordingSite("127.0.0.1", {"/public/rel.rss.xml": RELATIVE_RSS, "/public/based.atom.xml": BASE_ATOM,
                                     **_pages()},
                       routes={"/private/feed.xml": _private, "/private/down.xml": _private_down}) as s:
        yield s


def _all(es, index: str) -> list[dict]:
    es.indices.refresh(index=index)
    return [{"_id": h["_id"], **h["_source"]}
            for h in es.search(index=index, query={"match_all": {}}, size=500)["hits"]["hits"]]


def test_stories_listed_by_relative_links_are_fetched_and_indexed(settings, es_client, tmp_path, prefect_harness,
                                                                  site):
    from newswatch.flows.ingest import ingest_flow

    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"{site.url('/public/rel.rss.xml')}\n{site.url('/public/based.atom.xml')}\n")
    summary = ingest_flow(str(feeds), overrides=settings.public())
    ix = Indices(settings)
    stories = {s["canonical_url"] for s in _all(es_client, ix.stories)}
    expected = {site.url(p) for p in ("/stories/rail-loan.html", "/public/solar-plant.html",
                                      "/atom/wheat-exports.html", "/atom/deep/copper-mine.html")}
    assert stories == expected
    assert summary["counts"]["indexed"] == 4 and summary["counts"]["entries_rejected"] == 0
    assert all(site.hits[p.removeprefix(site.base_url)] == 1 for p in expected)
    assert not [e for e in _all(es_client, ix.errors) if e.get("error_type") == "bad_entry"]


def test_a_feeds_credentials_are_used_to_fetch_it_and_stored_logged_shown_nowhere(
        settings, es_client, tmp_path, prefect_harness, site, caplog, capsys, monkeypatch):
    from newswatch import cli
    from newswatch.flows.ingest import ingest_flow

    caplog.set_level(logging.DEBUG)
    host = site.base_url.removeprefix("http://")
    private, down = f"http://reader:{SECRET}@{host}/private/feed.xml", f"http://reader:{SECRET}@{host}/private/down.xml"
    public = site.url("/public/rel.rss.xml")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"{private}\n{down}\n{public}\n")
    first = ingest_flow(str(feeds), overrides=settings.public())
    assert first["counts"]["feeds_failed"] == 1 and first["counts"]["indexed"] == 4
    second = ingest_flow(str(feeds), overrides=settings.public())
    # the state was found again for the URL with credentials: a conditional GET, answered 304; the failed feed waits
    c = second["counts"]
    assert (c["feeds_not_modified"], c["feeds_skipped"], c["new"]) == (1, 1, 0)
    assert site.hits["/private/feed.xml"] == 2 and site.hits["/private/gas-deal.html"] == 1

    ix = Indices(settings)
    states = {s["url"]: s for s in _all(es_client, ix.feeds)}
    assert set(states) == {site.url("/private/feed.xml"), site.url("/private/down.xml"), public}
    # ids: from the URL without credentials; a feed without any keeps the id it always had
    assert {s["_id"] for s in states.values()} == {hashlib.sha256(u.encode()).hexdigest()[:32] for u in states}
    assert "HTTP 500" in states[site.url("/private/down.xml")]["last_error"]
    assert get_feed_states(es_client, ix, [private])[private]["etag"] == '"v1"'

    monkeypatch.setenv("NEWSWATCH_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setattr(cli.console, "width", 300)
    capsys.readouterr()
    assert cli.main(["--es-url", settings.es_url, "feeds", "list"]) == 0
    assert cli.main(["--es-url", settings.es_url, "feeds", "reset", down]) == 0  # as the feeds file lists it
    shown = capsys.readouterr().out
    assert site.url("/private/down.xml") in shown

    stored = {name: _all(es_client, getattr(ix, name)) for name in ("feeds", "errors", "stories", "runs")}
    assert [e for e in stored["errors"] if e.get("url") == site.url("/private/down.xml")], "the failure recorded"
    assert [s for s in stored["stories"] if site.url("/private/feed.xml") in s["feeds"]], "stories name the feed"
    on_disk = "".join(p.read_text() for p in (settings.home / "runs").glob("*.json"))
    # the flow's warning for the failed feed is in the captured log: the check below looks where it should
    assert site.url("/private/down.xml") in caplog.text
    for where, text in [*((n, json.dumps(docs)) for n, docs in stored.items()), ("summaries", json.dumps([first, second])),
                        ("run files", on_disk), ("log", caplog.text), ("feeds list", shown)]:
        assert SECRET not in text, where
        assert "reader@" not in text and "reader:" not in text, where


def test_a_state_stored_under_the_whole_url_is_moved_and_its_credentials_dropped(settings, es_client):
    from newswatch.connectors.es import ensure_indices, put_feed_states
    from newswatch.connectors.es import _whole_url_id

    ensure_indices(es_client, settings)
    ix = Indices(settings)
    url, bare = f"https://reader:{SECRET}@feeds.example/p.xml", "https://feeds.example/p.xml"
    old = {"url": url, "status": "quarantined", "consecutive_failures": 5, "etag": '"e"',
           "last_error": f"bad URL '{url}'"}
    es_client.index(index=ix.feeds, id=_whole_url_id(url), document=old, refresh=True)
    state = get_feed_states(es_client, ix, [url])[url]
    assert (state["url"], state["status"], state["etag"]) == (bare, "quarantined", '"e"'), "health kept"
    put_feed_states(es_client, ix, [state])
    docs = _all(es_client, ix.feeds)
    assert [d["_id"] for d in docs] == [hashlib.sha256(bare.encode()).hexdigest()[:32]]
    assert SECRET not in json.dumps(docs)
