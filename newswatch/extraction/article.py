"""HTML page -> main text and metadata (trafilatura), plus figure captions that belong to the story."""
from __future__ import annotations

import re
from copy import copy

import trafilatura
from lxml.etree import XPath
from trafilatura import metadata as tmeta
from trafilatura.settings import Extractor
from trafilatura.utils import load_html

from .lang import detect as detect_lang

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


# favor_precision: no comments, sidebars or link lists in the text; metadata is read by _metadata (below)
_FAST = Extractor(output_format="python", fast=True, precision=True, comments=False, with_metadata=False)
_THOROUGH = Extractor(output_format="python", fast=False, precision=True, comments=False, with_metadata=False)
# a fast-pass text this short is often a related-news block, not the story: the full cascade reads the page again
FULL_CASCADE_BELOW = 500
_DATE_PARAMS = dict(_FAST.date_params)  # as trafilatura's own metadata pass (config: extensive search)
_STAMP = "%Y-%m-%dT%H:%M:%S%z"


# trafilatura's byline search (``extract_author``) copies the tree and runs three XPaths whose regular-expression
# tests call back into Python for every element, on every page. Each of its expressions needs an <author> or
# <rel> element, or one of these words in a class, id, itemprop, rel, data-testid or data-component attribute
# (tests/unit/test_extraction.py checks this against the installed trafilatura's expressions); where none is
# there, the search cannot find anything and is skipped.
AUTHOR_WORDS = ("author", "byl", "bbl", "username", "zuozhe", "bianji", "xiaobian", "channel-name", "submitted-by",
                "posted-by", "journalist-name", "screenname", "writer")
_AUTHOR_WORDS_RE = re.compile("|".join(AUTHOR_WORDS))
_AUTHOR_ATTRS = XPath("//@class|//@id|//@itemprop|//@rel|//@data-testid|//@data-component")
_AUTHOR_ELEMENTS = XPath("//author|//rel")


def _may_name_author(tree) -> bool:
    if _AUTHOR_ELEMENTS(tree):
        return True
    return _AUTHOR_WORDS_RE.search(" ".join(_AUTHOR_ATTRS(tree)).lower()) is not None


def _metadata(tree, url: str | None, author_hint: str | None) -> dict:
    """Title, author, date, URL and site name: trafilatura's ``extract_metadata`` without what newswatch does
    not use (categories, tags, license: about a seventh of an extraction), and without the costly search of
    the page body for a byline when the page's own meta data names no author and ``author_hint`` (the feed's
    author) does."""
    md = tmeta.examine_meta(tree)
    if md.author and " " not in md.author:
        md.author = None  # as trafilatura: a single word is more often a handle or a site name
    try:
        md = tmeta.extract_meta_json(tree, md)
    except Exception:  # noqa: BLE001 - as trafilatura: bugs in JSON-LD parsing must not lose the page
        pass
    title = md.title or tmeta.extract_title(tree)
    author = md.author or author_hint or (tmeta.extract_author(tree) if _may_name_author(tree) else None)
    page_url = md.url or tmeta.extract_url(tree, url)
    stamp = tmeta.find_date(tree, **{**_DATE_PARAMS, "url": page_url, "outputformat": _STAMP})
    date = stamp[:10] if stamp else None
    # the time of day only where the page gives it with its zone (htmldate writes a date alone at 00:00, no zone)
    published = stamp if stamp and len(stamp) > 19 else None
    sitename = md.sitename or tmeta.extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif page_url:
        m = tmeta.META_URL.match(page_url)
        sitename = m[1] if m else None
    return {"title": title, "author": author, "date": date, "published": published, "sitename": sitename or None,
            "url": page_url}


def html_to_article(html: str | bytes, url: str | None = None, *, min_chars: int = 200,
                    author_hint: str | None = None, lang_hint: str | None = None) -> dict | None:
    """Title, main text, author, date, language and site name of a news page; None if nothing was found.

    trafilatura runs in its fast mode first (its own extractor only). Only a page where that finds less than
    ``min_chars`` or :data:`FULL_CASCADE_BELOW` characters of text is extracted again with trafilatura's full
    cascade (readability and jusText as fallbacks): on ordinary news pages both give the same text, and the fast
    mode costs about a third less.
    ``author_hint``: the author the feed gave, used when the page's meta data names none. ``lang_hint``: the
    language the feed declares; the story's ``lang`` is the page's own when it fits the text, else the feed's when
    that does, else detected from the text (:mod:`newswatch.extraction.lang`).
    """
    tree = load_html(html)
    if tree is None:
        return None
    meta = _metadata(tree, url, author_hint)
    doc = trafilatura.bare_extraction(tree, options=_options(True, url))  # works on a copy of the tree
    if doc is None or len((doc.text or "").strip()) < max(min_chars, FULL_CASCADE_BELOW):
        doc = trafilatura.bare_extraction(tree, options=_options(False, url)) or doc
    if doc is None:
        return None
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = d.get("text") or ""
    captions = []
    if text and (b"<figcaption" in html if isinstance(html, bytes) else "<figcaption" in html):
        captions = _story_captions(html, text)
    lang = d.get("language")
    if not lang:
        m = _LANG.search(html[:4000] if isinstance(html, bytes) else html[:4000].encode("utf-8", "ignore"))
        lang = m.group(1).decode().lower() if m else None
    return {**meta, "text": text, "captions": captions,
            "lang": detect_lang(f"{meta['title'] or ''} {text}", lang, lang_hint)}


def enrichment_text(text: str | None, captions: list[str] | None) -> str:
    """What facts are read from: the main text, then the story's figure captions (they name people and places)."""
    return (text or "") + ("\n" + "\n".join(captions) if captions else "")
