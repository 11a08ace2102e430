"""End to end: fixture feeds over loopback HTTP -> Prefect flow -> Beam -> real Elasticsearch."""
from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import lxml.html
import pytest

from newswatch.connectors.es import Indices

pytestmark = pytest.mark.integration

BOILERPLATE_TAGS = ("nav", "aside", "footer", "header")
BOILERPLATE_CLASSES = ("comment", "sidebar", "ticker", "related", "ranking", "menu", "share", "tags", "cookie",
                       "banner", "breadcrumbs", "newsletter", "advert", "promo")


def _boilerplate_snippets(html: bytes) -> list[str]:
    """Text blocks of a page that are not the story: nav/aside/footer/header and sidebars, tickers, comments."""
    root = lxml.html.fromstring(html)
    xpath = " | ".join([f"//{t}" for t in BOILERPLATE_TAGS] + [
        f"//*[contains(concat(' ', normalize-space(@class), ' '), '{c}')]" for c in BOILERPLATE_CLASSES])
    snippets = []
    for el in root.xpath(xpath):
        for piece in el.itertext():
            piece = re.sub(r"\s+", " ", piece).strip()
            if len(piece) >= 25:
                snippets.append(piece)
    return snippets


def _all_stories(es, ix: Indices) -> list[dict]:
    resp = es.search(index=ix.stories, query={"match_all": {}}, size=100)
    return [h["_source"] | {"_id": h["_id"]} for h in resp["hits"]["hits"]]


def _errors(es, ix: Indices) -> list[dict]:
    es.indices.refresh(index=ix.errors)
    return [h["_source"] for h in es.search(index=ix.errors, query={"match_all": {}}, size=200)["hits"]["hits"]]


@pytest.fixture()
def two_feed_run(settings, feeds_file, fixture_server, prefect_harness):
    from newswatch.flows.ingest import ingest_flow

    path = feeds_file("central-asia.rss.xml", "asia-world.atom.xml")
    before = dict(fixture_server.hits)
    summary = ingest_flow(path, overrides=settings.public())
    return path, summary, before


def test_both_feeds_index_every_story_once(two_feed_run, settings, es_client, gold, fixtures_dir):
    _path, summary, _ = two_feed_run
    ix = Indices(settings)
    stories = _all_stories(es_client, ix)
    by_file = {urlsplit(s["canonical_url"]).path.rsplit("/", 1)[-1]: s for s in stories}
    assert sorted(by_file) == sorted(gold["articles"]), "every gold story exactly once"
    assert len(stories) == len(gold["articles"]) == 7
    assert summary["counts"]["indexed"] == 7
    assert summary["counts"]["entries_seen"] == 10  # 6 RSS items + 4 Atom entries
    assert summary["counts"]["new"] == 9  # the Uzbekistan story is listed twice
    assert sorted(summary["story_ids"]) == sorted(s["_id"] for s in stories)

    uz = by_file["uzbekistan-adb-solar-loan.html"]
    assert "utm_" not in uz["canonical_url"]
    assert len(uz["feeds"]) == 2, "the story remembers both feeds that listed it"

    for name, expected in gold["articles"].items():
        story = by_file[name]
        assert story["title"] == expected["title"], name
        assert story["published_at"][:10] == expected["published"], name
        assert story["extraction_version"]
        assert story["site"]
        html = (fixtures_dir / "articles" / name).read_bytes()
        leaked = [b for b in _boilerplate_snippets(html) if b in story["text"]]
        assert not leaked, f"{name}: boilerplate in text: {leaked[:3]}"
        assert len(story["text"]) > 300, name


def test_staged_entry_files_are_gone_after_the_run(two_feed_run, settings):
    _, summary, _ = two_feed_run
    staging = settings.home / "staging"
    assert summary["counts"]["new"] > 0 and staging.is_dir()  # the run staged its entries there
    assert list(staging.iterdir()) == []


def test_404_and_metadata_link_become_error_records(two_feed_run, settings, es_client, fixture_server):
    _path, summary, _ = two_feed_run
    errors = _errors(es_client, Indices(settings))
    fetch_errors = {e["url"]: e for e in errors if e["stage"] == "fetch"}
    missing = next(e for u, e in fetch_errors.items() if u.endswith("/articles/no-such-page.html"))
    assert missing["http_status"] == 404 and "404" in missing["reason"]
    metadata = next(e for u, e in fetch_errors.items() if "169.254.169.254" in u)
    assert metadata["error_type"] == "forbidden_address"
    assert "link-local" in metadata["reason"]
    assert summary["counts"]["failed"] == 2
    assert summary["status"] == "completed_with_errors"


def test_metadata_address_is_never_contacted(settings, monkeypatch):
    """The guard refuses before any socket connects to the metadata address."""
    from newswatch.connectors.http import Fetcher, ForbiddenAddress

    attempts = []
    real_connect = socket.socket.connect

    def recording_connect(sock, address):
        attempts.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    with pytest.raises(ForbiddenAddress):
        Fetcher(settings).get("http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    assert not any(str(a[0]).startswith("169.254.") for a in attempts)


def test_second_run_indexes_nothing_and_refetches_no_unchanged_feed(two_feed_run, settings, es_client,
                                                                    fixture_server):
    from newswatch.flows.ingest import ingest_flow

    path, first, _ = two_feed_run
    hits_before = dict(fixture_server.hits)
    second = ingest_flow(path, overrides=settings.public())
    c = second["counts"]
    assert c["feeds_not_modified"] == 2, "both feeds answered 304 to the conditional GET"
    assert (c["new"], c["fetched"], c["indexed"]) == (0, 0, 0)
    article_hits = {p: n - hits_before.get(p, 0) for p, n in fixture_server.hits.items() if p.startswith("/articles/")}
    assert not any(article_hits.values()), f"pages re-fetched: {article_hits}"
    assert len(_all_stories(es_client, Indices(settings))) == 7


def test_broken_feeds_are_reported_and_do_not_stop_the_run(settings, feeds_file, prefect_harness, es_client):
    from newswatch.flows.ingest import ingest_flow

    path = feeds_file("truncated.rss.xml", "entity-bomb.rss.xml", "central-asia.rss.xml")
    summary = ingest_flow(path, overrides=settings.public())
    assert summary["counts"]["feeds_failed"] == 2
    failed = {e["feed"].rsplit("/", 1)[-1]: e for e in summary["errors"]["feeds"]}
    assert set(failed) == {"truncated.rss.xml", "entity-bomb.rss.xml"}
    assert failed["entity-bomb.rss.xml"]["kind"] == "unsafe_xml"
    assert failed["truncated.rss.xml"]["kind"] == "malformed_feed"
    poll_errors = [e for e in _errors(es_client, Indices(settings)) if e["stage"] == "poll"]
    assert {e["feed"].rsplit("/", 1)[-1] for e in poll_errors} >= {"truncated.rss.xml", "entity-bomb.rss.xml"}
    # the good feed in the same run was fully processed
    assert summary["counts"]["indexed"] == 4
    stories = _all_stories(es_client, Indices(settings))
    assert all("root:" not in (s.get("text") or "") + (s.get("title") or "") for s in stories)


def test_feed_state_is_kept_in_elasticsearch(two_feed_run, settings, es_client):
    ix = Indices(settings)
    es_client.indices.refresh(index=ix.feeds)
    states = [h["_source"] for h in es_client.search(index=ix.feeds, size=10)["hits"]["hits"]]
    assert len(states) == 2
    assert all(s["etag"] and s["last_status"] == "ok" for s in states)


def test_stories_a_dead_run_left_unsearchable_are_still_known(two_feed_run, settings, es_client, fixture_server,
                                                            gold):
    """The stories index refreshes every 30 s, and a run refreshes it when its pipeline ends. A run killed before
    that leaves stories written but not yet searchable; the next run must still see them as known."""
    from newswatch.flows.ingest import ingest_flow

    path, first, _ = two_feed_run
    ix = Indices(settings)
    settings_now = es_client.indices.get_settings(index=ix.stories)
    assert {s["settings"]["index"]["refresh_interval"] for s in settings_now.values()} == {"30s"}
    name = sorted(gold["articles"])[0]
    hit = next(h for h in es_client.search(index=ix.stories, size=20)["hits"]["hits"]
               if h["_source"]["canonical_url"].endswith("/" + name))
    write_index = hit["_index"]
    es_client.delete(index=write_index, id=hit["_id"], refresh=True)
    es_client.index(index=write_index, id=hit["_id"], document=hit["_source"])  # written, never refreshed
    assert not es_client.search(index=ix.stories, query={"ids": {"values": [hit["_id"]]}})["hits"]["hits"]
    es_client.indices.delete(index=ix.feeds)  # forget the feeds' validators: both feeds are read in full again
    hits_before = dict(fixture_server.hits)
    second = ingest_flow(path, overrides=settings.public())
    refetched = {p: n - hits_before.get(p, 0) for p, n in fixture_server.hits.items()
                 if p.startswith("/articles/") and n > hits_before.get(p, 0)}
    assert not any(p.endswith("/" + name) for p in refetched), f"the unrefreshed story was fetched again: {refetched}"
    assert second["counts"]["new"] == first["counts"]["new"] - first["counts"]["indexed"]  # only the two failures
    assert second["counts"]["indexed"] == 0


def test_feed_states_are_retried_and_a_lost_commit_only_means_a_repoll(settings, feeds_file, prefect_harness,
                                                                        es_client, monkeypatch):
    """Storing the feeds' state (ETag, Last-Modified) is retried twice; if it still fails the run says so, and the
    next run polls those feeds in full again but indexes nothing twice."""
    from newswatch.connectors import es as esc
    from newswatch.flows import ingest

    monkeypatch.setattr(ingest, "RETRY_DELAYS", (0, 0))
    real, calls = esc.put_feed_states, []

    def flaky(fails: int):
        def put(*args, **kwargs):
            calls.append(1)
            if len(calls) <= fails:
                raise ConnectionError("Elasticsearch went away (injected)")
            return real(*args, **kwargs)
        return put

    path = feeds_file("central-asia.rss.xml")
    monkeypatch.setattr(esc, "put_feed_states", flaky(fails=3))  # every attempt of the first run fails
    first = ingest.ingest_flow(path, overrides=settings.public())
    assert len(calls) == 3
    assert "feed state not saved" in first["errors"]["feed_state"]
    assert first["counts"]["indexed"] == 4 and first["status"] == "completed_with_errors"
    calls.clear()
    monkeypatch.setattr(esc, "put_feed_states", flaky(fails=2))  # the third attempt gets through
    second = ingest.ingest_flow(path, overrides=settings.public())
    assert len(calls) == 3 and "feed_state" not in second["errors"]
    assert second["counts"]["feeds_not_modified"] == 0  # no validators stored: polled in full
    # nothing indexed twice: only the entries the first run could not index (a 404...) are tried again
    assert second["counts"]["indexed"] == 0
    assert second["counts"]["new"] == first["counts"]["new"] - first["counts"]["indexed"] < first["counts"]["new"]
    third = ingest.ingest_flow(path, overrides=settings.public())
    assert third["counts"]["feeds_not_modified"] == 1  # the second run's state was stored


def test_stories_keep_the_time_of_day_and_the_outlet(analyst_corpus, es_client):
    """Publication time with its zone (the page's own, else the feed's), the feeds file's name and tags, the
    feed's title where the feeds file names none, and lenders a person can read."""
    hits = es_client.search(index=analyst_corpus.index("stories"), query={"match_all": {}}, size=100)["hits"]["hits"]
    by = {urlsplit(h["_source"]["canonical_url"]).path.rsplit("/", 1)[-1]: h["_source"] for h in hits}
    kamb = by["kyrgyzstan-kambarata-hydropower-financing.html"]
    assert kamb["published_at"] == "2025-02-18T08:00:00+05:00"  # article:published_time, zone kept
    assert kamb["source_name"] == "Central Asia sample wire (fictional)" and kamb["source_tags"] == []
    ccp = by["ccp-financing-central-asia.html"]  # the page gives a date only: the feed's 09:30 GMT
    assert ccp["published_at"].startswith("2022-01-20T09:30:00") and ccp["published_at"][19:] in ("Z", "+00:00")
    # the first feed that lists it names it; the tags are every listing feed's (the broken feed salvages it)
    assert ccp["source_name"] == "Steppe Business Review" and ccp["source_tags"] == ["broken", "central-asia"]
    uz = by["uzbekistan-adb-solar-loan.html"]  # listed by two feeds: both tags
    assert uz["source_tags"] == ["asia", "central-asia"]
    assert not [s for s in by.values() if ":" in (s["source_name"] or "") and "127.0.0.1" in s["source_name"]]
    exim = next(m for m in by["tajikistan-rogun-debt-exim.html"]["finance"] if m["lender"] == "exim-china")
    assert (exim["lender_name"], exim["lender_country"]) == ("Export-Import Bank of China", "CN")
    assert by["tajikistan-rogun-debt-exim.html"]["lender_countries"] == ["CN"]
    wb = next(m for m in kamb["finance"] if m["lender"] == "world-bank")
    assert (wb["lender_name"], wb["lender_country"]) == ("World Bank", None)
    assert wb["recipient_location"] == pytest.approx({"lat": 42.87, "lon": 74.59}, abs=0.01)
