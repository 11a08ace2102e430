"""Page decoding: whatever charset a server declares, decoding gives text or the bytes, never an exception."""
from __future__ import annotations

import pytest

from newswatch.pipelines.stages import decode_html, page_codec

CP1251 = "<p>Казахстан подписал кредит</p>".encode("cp1251")


@pytest.mark.parametrize("label", ["undefined", "idna", "punycode", "base64", "rot13", "zlib", "unicode_escape",
                                   "no-such-charset", "", " ", "utf\x00-8", "x" * 300])
def test_a_charset_that_decodes_no_page_counts_as_none(label):
    assert page_codec(label) is None
    assert decode_html(CP1251, label) == CP1251  # left to the detector, as an undeclared page is


def test_a_real_charset_is_used_and_valid_utf8_still_wins():
    assert decode_html(CP1251, "windows-1251") == "<p>Казахстан подписал кредит</p>"
    assert decode_html(CP1251, " CP1251 ") == "<p>Казахстан подписал кредит</p>"
    assert decode_html("<p>Türkiye</p>".encode(), "iso-8859-1") == "<p>Türkiye</p>"
