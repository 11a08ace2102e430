"""HTML page -> main text and metadata (trafilatura), plus figure captions that belong to the story."""
from __future__ import annotations

import re

import trafilatura

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


def html_to_article(html: str | bytes, url: str | None = None) -> dict | None:
    """Title, main text, author, date, language and site name of a news page; None if nothing was found."""
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_precision=True,
                                      include_comments=False)
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
