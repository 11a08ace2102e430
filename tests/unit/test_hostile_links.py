"""Hostile links in feeds: credentials in a link, a NUL in a feed's URL, a poll that raises. The real parsers,
the real fetcher (it refuses these URLs before any connection) and the poll's error records."""
from __future__ import annotations

import hashlib

import courlan
import pytest

from newswatch.connectors.feed_health import poll_errors
from newswatch.connectors.feeds import canonicalize, parse_feed, poll_feed, story_id, strip_credentials
from newswatch.connectors.http import Fetcher
from newswatch.settings import Settings

RSS = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{}</channel></rss>')


def _item(link: str) -> str:
    return f"<item><title>a</title><link>{link}</link></item>"


@pytest.mark.parametrize("fast", [True, False])
def test_credentials_in_a_link_are_not_stored(fast):
    body = RSS.format(_item("http://user:secret@x.kz/p/1") + _item("https://:tok@x.kz/p/2")).encode()
    entries = parse_feed(body, "http://x.kz/feed", fast=fast).entries
    assert [(e.link, e.canonical_url) for e in entries] == [("http://x.kz/p/1", "http://x.kz/p/1"),
                                                            ("https://x.kz/p/2", "https://x.kz/p/2")]
    assert entries[0].id == story_id("http://x.kz/p/1")  # the same story as the link without credentials


@pytest.mark.parametrize("url", ["https://News.Example.com/a/story.html?utm_source=rss", "http://x.kz:80/a//b/",
                                 "https://x.kz/read.asp?NewsID=1001", "https://x.kz/p/@home", "http://x.kz/a?to=b@c"])
def test_ids_of_urls_without_credentials_do_not_change(url):
    # the ids already stored were made from courlan's strict normal form of the cleaned URL; that form dropped
    # every query parameter, so only URLs without a (non-tracking) query keep their ids: the others were the
    # defect (many stories made one)
    assert strip_credentials(url) == url
    strict = courlan.normalize_url(courlan.clean_url(url), strict=True)
    if "?" not in strict and not any(k in url for k in ("NewsID", "to=")):
        assert canonicalize(url) == strict
    else:
        assert canonicalize(url) == courlan.normalize_url(courlan.clean_url(url), strict=False) != strict


def test_a_nul_in_a_feed_url_is_that_feeds_error():
    fetcher = Fetcher(Settings.from_env())
    res = poll_feed(fetcher, "http://x.kz/fe\x00ed")
    assert (res.status, res.error_kind) == ("error", "bad_url") and "control character" in res.error
    (record,) = poll_errors(res, "run-1")
    assert (record["stage"], record["error_type"]) == ("poll", "bad_url")


def test_any_failure_of_a_poll_is_that_feeds_error_record():
    """A parser that raises (e.g. its worker process died) ends this feed's poll, not the run's."""
    from concurrent.futures.process import BrokenProcessPool

    from servers import HostileServer

    def broken(fn, *args):
        raise BrokenProcessPool("a worker died")

    settings = Settings.from_env().with_(allow_loopback=True, fetch_timeout=2.0, fetch_total_timeout=3.0)
    with HostileServer() as server:
        server.route_feed = lambda h, n, base: h._send(200, RSS.format(_item(base + "/good-1")).encode(),
                                                       "application/rss+xml")
        res = poll_feed(Fetcher(settings), server.url("feed"), parse=broken)
    assert (res.status, res.error_kind) == ("error", "poll_error") and "a worker died" in res.error
    assert poll_errors(res, "run-1")[0]["reason"] == "BrokenProcessPool: a worker died"


def test_a_feeds_credentials_stay_out_of_its_error_records():
    res = poll_feed(Fetcher(Settings.from_env()), "ftp://me:hunter2@x.kz/feed")
    assert res.status == "error"
    record = poll_errors(res, "run-1")[0]
    assert "hunter2" not in f"{record['url']} {record['feed']} {record['reason']}", record


def test_query_parameters_that_identify_a_story_are_kept_and_tracking_ones_dropped():
    from newswatch.connectors.feeds import canonicalize, story_id

    ids = {story_id(canonicalize(u)) for u in ("http://x.kz/read.asp?NewsID=1001", "http://x.kz/read.asp?NewsID=1002",
                                              "http://x.kz/detail.php?ELEMENT_ID=5", "http://x.kz/news?story=5")}
    assert len(ids) == 4  # four stories, four ids
    assert canonicalize("http://x.kz/a?id=3&utm_source=rss&fbclid=9&gclid=1&yclid=2&mc_cid=4&sessionid=77") == \
        "http://x.kz/a?id=3"
    # no query: the canonical form (and so the stored id) is what it always was
    assert canonicalize("HTTP://WWW.Example.org/a/b.html") == "http://www.example.org/a/b.html"


def test_a_feeds_credentials_are_not_in_its_stored_state_and_its_id_is_that_of_the_url_without_them():
    from datetime import datetime, timezone

    from newswatch.connectors.es import _feed_doc_id
    from newswatch.connectors.feed_health import next_feed_state
    from newswatch.connectors.feeds import PollResult

    url = "https://reader:hunter2@x.kz/private/feed.xml"
    # a message that quotes the URL percent-encoded (as it went on the wire), not as the feeds file has it
    res = PollResult(url, "error", error="bad URL 'https://reader:hunter2@x.kz/private/f%C3%A9ed.xml': no",
                     error_kind="bad_url")
    state = next_feed_state(None, res, datetime.now(timezone.utc), 60.0, 5)
    assert state["url"] == "https://x.kz/private/feed.xml"
    assert state["last_error"] == "bad URL 'https://x.kz/private/f%C3%A9ed.xml': no"
    assert _feed_doc_id(url) == _feed_doc_id("https://x.kz/private/feed.xml")
    for bare in ("https://x.kz/private/feed.xml", "http://x.kz/a?to=b@c", "https://x.kz/p/@home"):
        # the ids already stored: sha256 of the URL as listed
        assert _feed_doc_id(bare) == hashlib.sha256(bare.encode()).hexdigest()[:32]


def test_stories_name_a_feed_without_its_credentials():
    from newswatch.connectors.feeds import FeedSpec, merge_entries

    url = "https://reader:hunter2@x.kz/private/feed.xml"
    res = parse_feed(RSS.format(_item("https://x.kz/p/1")).encode(), url)
    merged = merge_entries([res], [FeedSpec(url=url, name="Private", tags=["p"])], "run-1")
    (story,) = merged.values()
    assert (story["feeds"], story["source_name"], story["source_tags"], story["feed_title"]) == \
        (["https://x.kz/private/feed.xml"], "Private", ["p"], "t")


def test_relative_links_of_a_feed_with_credentials_do_not_carry_them():
    settings = Settings.from_env().with_(allow_loopback=True, fetch_timeout=2.0, fetch_total_timeout=3.0)
    from servers import HostileServer

    with HostileServer() as server:
        server.route_feed = lambda h, n, base: h._send(200, RSS.format(_item("/good-1")).encode(),
                                                       "application/rss+xml")
        port = server.httpd.server_address[1]
        res = poll_feed(Fetcher(settings), f"http://reader:hunter2@127.0.0.1:{port}/feed")
    assert [e.link for e in res.entries] == [f"http://127.0.0.1:{port}/good-1"]
    assert server.authorized == ["/feed"], "the feed itself was fetched with its credentials"


def test_a_feed_body_that_names_a_local_file_is_not_read_from_disk(tmp_path):
    from newswatch.connectors.feeds import parse_feed

    local = tmp_path / "private.xml"
    local.write_text('<rss version="2.0"><channel><title>LOCAL</title><item><title>secret</title>'
                     '<link>http://example.com/secret</link></item></channel></rss>')
    result = parse_feed(str(local).encode(), "http://example.com/feed.xml", {"content-type": "application/rss+xml"})
    assert result.entries == [] and result.status == "error", result
