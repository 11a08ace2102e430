"""Relative entry links: both feed parsers (fastfeedparser's fast path and feedparser) give the same absolute
entry URLs, resolved as feedparser resolves them: against the feed's URL (the Content-Location a poll passes)
and any xml:base in the document. The real parsers throughout; feedparser's result is the reference."""
from __future__ import annotations

import random

import pytest

from newswatch.connectors.feeds import parse_feed, read_fast

FEED_URL = "https://news.example/feeds/rss.xml"
SERVED = {"content-type": "application/rss+xml", "content-location": FEED_URL}


def rss(*links: str, channel_attrs: str = "") -> bytes:
    items = "".join(f"<item><title>t{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel{channel_attrs}><title>T</title>'
            f"<link>https://news.example/</link>{items}</channel></rss>").encode()


def atom(*entries: str, feed_attrs: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{feed_attrs}>'
            f"<title>T</title>{''.join(entries)}</feed>").encode()


def atom_entry(href: str, entry_attrs: str = "", link_attrs: str = "", n: int = 0) -> str:
    return f'<entry{entry_attrs}><title>t{n}</title><id>urn:x:{n}</id><link href="{href}"{link_attrs}/></entry>'


def both(body: bytes, headers: dict | None = SERVED):
    fast, slow = parse_feed(body, FEED_URL, headers), parse_feed(body, FEED_URL, headers, fast=False)
    assert fast == slow
    return [e.link for e in slow.entries]


def test_rss_links_relative_to_the_feed_url_are_resolved_by_the_fast_parser_as_by_feedparser():
    body = rss("/news/1", "news/2", "//cdn.example/news/3", "?id=4", "https://other.example/5")
    assert read_fast(body, SERVED)  # resolved in the fast path, not handed to feedparser
    assert both(body) == ["https://news.example/news/1", "https://news.example/feeds/news/2",
                          "https://cdn.example/news/3", "https://news.example/feeds/rss.xml?id=4",
                          "https://other.example/5"]


def test_atom_links_relative_to_the_feed_url_are_resolved_by_the_fast_parser_as_by_feedparser():
    body = atom(atom_entry("/news/1"), atom_entry("news/2", n=1))
    assert read_fast(body, SERVED)
    assert both(body) == ["https://news.example/news/1", "https://news.example/feeds/news/2"]


def test_atom_links_relative_to_xml_base_on_the_feed_the_entry_and_the_link():
    body = atom(atom_entry("/news/1"), atom_entry("news/2", entry_attrs=' xml:base="sub/"', n=1),
                atom_entry("news/3", link_attrs=' xml:base="https://cdn.example/a/"', n=2),
                atom_entry("news/4", n=3), feed_attrs=' xml:base="https://base.example/dir/"')
    assert read_fast(body, SERVED)
    assert both(body) == ["https://base.example/news/1", "https://base.example/dir/sub/news/2",
                          "https://cdn.example/a/news/3", "https://base.example/dir/news/4"]


def test_rss_links_relative_to_xml_base_on_the_channel():
    body = rss("/news/1", "news/2", channel_attrs=' xml:base="https://base.example/dir/"')
    assert read_fast(body, SERVED)
    assert both(body) == ["https://base.example/news/1", "https://base.example/dir/news/2"]


def test_rss_1_0_links_relative_to_the_feed_url():
    body = (b'<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>T</title><link>/</link></channel>'
            b'<item rdf:about="a"><title>a</title><link>/news/1</link></item></rdf:RDF>')
    assert both(body) == ["https://news.example/news/1"]


def test_without_a_feed_url_relative_links_are_rejected_by_both_and_xml_base_still_applies():
    assert both(rss("/news/1"), None) == []
    assert parse_feed(rss("/news/1"), FEED_URL).rejected_entries == [{"link": "/news/1",
                                                                     "reason": "link is not http(s)"}]
    body = atom(atom_entry("news/1", entry_attrs=' xml:base="https://base.example/d/"'), atom_entry("news/2", n=1))
    # feedparser's quirk, kept: with no base above it, an entry's xml:base stays in force after the entry ends
    assert both(body, None) == ["https://base.example/d/news/1", "https://base.example/d/news/2"]


def test_a_base_attribute_feedparser_reads_and_the_fast_path_does_not_goes_to_feedparser():
    body = atom(atom_entry("news/1", entry_attrs=' base="https://plain.example/"'))
    assert not read_fast(body, SERVED)
    assert both(body) == ["https://plain.example/news/1"]


def test_an_unsafe_xml_base_scheme_is_ignored_by_both():
    body = atom(atom_entry("news/1", entry_attrs=' xml:base="javascript:alert(1)//"'))
    assert both(body) == ["https://news.example/feeds/news/1"]


_BASES = ["", "https://b.example/d/", "sub/", "/root/", "//cdn.example/c/", "javascript:x/", "  ", "?q=1",
          "http:///odd/", "ftp://f.example/"]
_LINKS = ["/n/1", "n/2", "../n/3", "//h.example/n/4", "https://h.example/n/5", "?p=6", "#f7", "n%208",
          "http:///n/9", " n/10 ", "./", "mailto:x@y"]


@pytest.mark.parametrize("seed", range(6))
def test_random_mixes_of_xml_base_and_relative_links_read_alike(seed):
    # a wide mix of bases and links at every level, with and without a feed URL: any disagreement is a defect
    rnd = random.Random(seed)
    for _ in range(40):
        def attr() -> str:
            return f' xml:base="{rnd.choice(_BASES)}"' if rnd.random() < 0.4 else ""

        entries = [atom_entry(rnd.choice(_LINKS).strip() or "x", attr(), attr(), n) for n in range(rnd.randint(1, 4))]
        for body in (atom(*entries, feed_attrs=attr()),
                     rss(*(rnd.choice(_LINKS) for _ in range(3)), channel_attrs=attr())):
            both(body, rnd.choice([SERVED, None, {"content-type": "application/xml",
                                                  "content-location": "http://x.example/a/b/feed"}]))
