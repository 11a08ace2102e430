"""Declared charsets (HTTP ``Content-Type``) that name a codec able to decode a document, and those that do not."""
from __future__ import annotations

import codecs

# codecs Python has under charset-like labels that decode no document: one declaring them is read as undeclared
NOT_DOCUMENT_CHARSETS = frozenset({"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape"})


def text_codec(declared: str | None) -> str | None:
    """The codec a declared charset names, or None when it names none that decodes text (unknown labels,
    ``undefined``, ``idna``, ``punycode``, bytes-to-bytes codecs such as ``base64``)."""
    if not declared:
        return None
    try:
        info = codecs.lookup(declared.strip())
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in NOT_DOCUMENT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name
