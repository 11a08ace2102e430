"""Page and feed decoding: whatever charset a server declares, decoding gives text (or the bytes, for detection),
never an exception."""
from __future__ import annotations

import pytest

from newswatch.charsets import text_codec
from newswatch.connectors.feeds import parse_feed
from newswatch.pipelines.extract import decode_html

CP1251 = "<p>Казахстан подписал кредит</p>".encode("cp1251")


@pytest.mark.parametrize("label", ["undefined", "idna", "punycode", "base64", "rot13", "zlib", "unicode_escape",
                                   "no-such-charset", "", " ", "utf\x00-8", "x" * 300])
def test_a_charset_that_decodes_no_page_counts_as_none(label):
    assert text_codec(label) is None
    assert decode_html(CP1251, label) == CP1251  # left to the detector, as an undeclared page is


def test_a_real_charset_is_used_and_valid_utf8_still_wins():
    assert decode_html(CP1251, "windows-1251") == "<p>Казахстан подписал кредит</p>"
    assert decode_html(CP1251, " CP1251 ") == "<p>Казахстан подписал кредит</p>"
    assert decode_html("<p>Türkiye</p>".encode(), "iso-8859-1") == "<p>Türkiye</p>"


FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Café wire</title>'
        '<item><title>Café</title><link>http://x.kz/1</link></item></channel></rss>')


@pytest.mark.parametrize("label", ["undefined", "idna", "punycode", "base64"])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize("fast", [True, False])
def test_a_feed_with_a_bogus_charset_is_read_as_if_it_declared_none(label, encoding, fast):
    res = parse_feed(FEED.encode(encoding), "http://x.kz/feed", {"content-type": f"application/rss+xml; charset={label}"},
                     fast=fast)
    assert (res.status, [e.link for e in res.entries]) == ("ok", ["http://x.kz/1"]), res.error
