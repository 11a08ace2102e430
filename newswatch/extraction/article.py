"""HTML page -> main text and metadata (trafilatura), plus figure captions that belong to the story."""
from __future__ import annotations

import re
from copy import copy

import trafilatura
from trafilatura.settings import Extractor

_LANG = re.compile(rb"<html[^>]*\blang=[\"']?([A-Za-z]{2,3})", re.I)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _story_captions(html: str | bytes, text: str) -> list[str]:
    """Captions of figures that stand among the story's own paragraphs (trafilatura drops them)."""
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    flat = _norm(text)
    out = []
    for cap in root.iter("figcaption"):
        figure = cap.getparent()
        parent = figure.getparent() if figure is not None else None
        if parent is None:
            continue
        siblings = [p for p in parent if p.tag == "p" and p is not figure]
        if not any(len(_norm(p.text_content())) > 40 and _norm(p.text_content())[:60] in flat for p in siblings):
            continue  # not next to the story's paragraphs: a sidebar or gallery image
        caption = _norm(cap.text_content())
        if caption and caption not in flat:
            out.append(caption)
    return out


def _options(fast: bool, url: str | None) -> Extractor:
    """trafilatura's options for one page: a copy of a prepared set (building one parses its config file)."""
    base = _FAST if fast else _THOROUGH
    if not url:
        return base
    opts = copy(base)
    opts.url = opts.source = url
    return opts


# favor_precision: no comments, sidebars or link lists in the text; metadata: title, author, date, site name
_FAST = Extractor(output_format="python", fast=True, precision=True, comments=False, with_metadata=True)
_THOROUGH = Extractor(output_format="python", fast=False, precision=True, comments=False, with_metadata=True)


def html_to_article(html: str | bytes, url: str | None = None, *, min_chars: int = 200) -> dict | None:
    """Title, main text, author, date, language and site name of a news page; None if nothing was found.

    trafilatura runs in its fast mode first (its own extractor only). Only a page where that finds less than
    ``min_chars`` of text is extracted again with trafilatura's full cascade (readability and jusText as
    fallbacks): on ordinary news pages both give the same text, and the fast mode costs about a third less.
    """
    doc = trafilatura.bare_extraction(html, options=_options(True, url))
    if doc is None or len((doc.text or "").strip()) < min_chars:
        doc = trafilatura.bare_extraction(html, options=_options(False, url)) or doc
    if doc is None:
        return None
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = d.get("text") or ""
    if text and (b"<figcaption" in html if isinstance(html, bytes) else "<figcaption" in html):
        captions = _story_captions(html, text)
        if captions:
            text = text + "\n" + "\n".join(captions)
    lang = d.get("language")
    if not lang:
        m = _LANG.search(html[:4000] if isinstance(html, bytes) else html[:4000].encode("utf-8", "ignore"))
        lang = m.group(1).decode().lower() if m else None
    return {"title": d.get("title"), "text": text, "author": d.get("author"), "date": d.get("date"),
            "lang": lang, "sitename": d.get("sitename"), "url": d.get("url")}
