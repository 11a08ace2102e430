"""Hostile links in feeds (issue 17, 3.1, 3.5-3.7): story-identifying query parameters, relative links,
credentials, NUL bytes. Pure functions and one feed poll over a fetcher that raises."""
from __future__ import annotations

import hashlib

import pytest

from newswatch.connectors.feeds import canonicalize, parse_feed, poll_feed, story_id


@pytest.mark.parametrize("a,b", [
    ("http://x.kz/read.asp?NewsID=1001", "http://x.kz/read.asp?NewsID=1002"),
    ("http://x.kz/detail.php?ELEMENT_ID=5", "http://x.kz/detail.php?ELEMENT_ID=6"),
    ("http://x.kz/news?story=5", "http://x.kz/news?story=6"),
])
def test_a_parameter_that_identifies_the_story_is_kept(a, b):
    assert story_id(canonicalize(a)) != story_id(canonicalize(b))


def test_tracking_parameters_are_dropped_the_rest_sorted():
    assert canonicalize("http://X.kz/news?utm_source=rss&story=5&fbclid=1&gclid=2&PHPSESSID=3&mc_cid=4#top") \
        == "http://x.kz/news?story=5"
    assert canonicalize("http://x.kz/a?b=2&a=1&yclid=9") == "http://x.kz/a?a=1&b=2"


def test_ids_of_urls_without_a_query_do_not_change():
    # the ids already stored: sha256 of courlan's strict normal form
    for url, canon in [("https://News.Example.com/a/story.html", "https://news.example.com/a/story.html"),
                       ("http://x.kz:80/a//b/", "http://x.kz/a/b/")]:
        assert canonicalize(url) == canon
        assert story_id(canonicalize(url)) == hashlib.sha256(canon.encode()).hexdigest()[:32]


def test_credentials_are_not_stored():
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            b'<item><title>a</title><link>http://user:secret@x.kz/p/1</link></item></channel></rss>')
    for fast in (True, False):
        (entry,) = parse_feed(body, "http://x.kz/feed", fast=fast).entries
        assert "secret" not in entry.link + entry.canonical_url
        assert entry.canonical_url == "http://x.kz/p/1"


def test_relative_links_are_resolved_the_same_by_both_parsers():
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            b'<item><title>a</title><link>/news/1</link></item>'
            b'<item><title>b</title><link>https://x.kz/news/2</link></item></channel></rss>')
    fast = parse_feed(body, "https://x.kz/rss.xml", {"content-type": "application/rss+xml"})
    slow = parse_feed(body, "https://x.kz/rss.xml", {"content-type": "application/rss+xml"}, fast=False)
    assert [e.to_dict() for e in fast.entries] == [e.to_dict() for e in slow.entries]
    assert [e.link for e in fast.entries] == ["https://x.kz/news/1", "https://x.kz/news/2"]
    assert not fast.rejected_entries


class _RaisingFetcher:
    settings = type("S", (), {"max_feed_bytes": 1000})()

    def get(self, url, **kw):
        if "\x00" in url:
            raise ValueError("embedded null byte")
        raise AssertionError


def test_a_nul_in_a_feed_url_is_that_feeds_error():
    res = poll_feed(_RaisingFetcher(), "http://x.kz/fe\x00ed")
    assert res.status == "error" and "null" in res.error
