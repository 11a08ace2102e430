"""Feed polling: conditional GET, safe XML pre-check, fastfeedparser or feedparser, normalised entries.

Per-feed state (ETag, Last-Modified, last status) is kept in Elasticsearch by the caller
(:mod:`newswatch.connectors.es`); this module is I/O over HTTP only.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.etree.ElementTree import ParseError

import courlan
import defusedxml.ElementTree as DET
import fastfeedparser
import feedparser
import yaml
from defusedxml import DefusedXmlException
from feedparser.urls import _urljoin as _fp_urljoin  # feedparser's own joins: the fast path resolves links as it does
from feedparser.urls import make_safe_absolute_uri as _fp_safe_uri

from ..charsets import text_codec
from .http import FEED_TYPES, FetchError, Fetcher, strip_credentials, without_credentials

MAX_ENTRIES_PER_FEED = 5000


@dataclass
class FeedSpec:
    url: str
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    lang: str | None = None  # the language the feed declares (ISO 639-1): a hint for its stories' language


@dataclass
class Entry:
    """One feed entry pointing at a story; ``id`` is the future document id."""

    id: str
    link: str  # as listed in the feed
    canonical_url: str
    feed: str
    title: str | None = None
    published_at: str | None = None  # ISO 8601
    author: str | None = None


@dataclass
class PollResult:
    feed: str
    status: str  # ok | not_modified | error
    entries: list[Entry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    error: str | None = None
    error_kind: str | None = None
    http_status: int | None = None
    rejected_entries: list[dict] = field(default_factory=list)


def canonicalize(url: str) -> str | None:
    """Canonical form of a story URL: no credentials, host lower-cased, and every query parameter kept except
    tracking ones — courlan's list (``utm_*``, ``fbclid``, ``gclid``, ``yclid``, ``mc_*``, session ids, ``ref``,
    ``source``, campaign and affiliate parameters...; ``courlan.clean.TRACKERS_RE``). Parameters often identify
    the story itself (``read.asp?NewsID=1001``, ``detail.php?ELEMENT_ID=5``): dropping them made many stories
    one. A URL without a query canonicalises as it always did (stored ids stay valid)."""
    try:
        cleaned = courlan.clean_url(strip_credentials(url.strip()))
        if not cleaned:
            return None
        return courlan.normalize_url(cleaned, strict=False)
    except (ValueError, TypeError):
        return None


def story_id(canonical_url: str) -> str:
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """A feeds file: YAML (``feeds: [{url, name, tags, lang}]`` or a list of URLs) or plain text, one URL a line.
    ``lang`` (optional): the language of the feed's stories, a hint where a page does not say (plausibly).
    A file that cannot be read as such raises ``ValueError`` saying what is wrong and where."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8") \
            from None
    if not str(path).endswith((".yaml", ".yml")):
        return [FeedSpec(url=line) for line in (ln.split("#", 1)[0].strip() for ln in text.splitlines()) if line]
    data = yaml.safe_load(text) or {}
    items = data.get("feeds", []) if isinstance(data, dict) else data
    if not isinstance(items, list):  # "feeds: http://x/" would be read character by character
        raise ValueError(f"{path}: 'feeds' must be a list (one '- url: ...' per feed), not {type(items).__name__} "
                         f"{items!r}")
    return [_feed_spec(path, item) for item in items]


def _feed_spec(path, item) -> FeedSpec:
    """One entry of a YAML feeds file."""
    from ..extraction.lang import normalize as normalize_lang

    if isinstance(item, str):
        return FeedSpec(url=item)
    if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"].strip():
        raise ValueError(f"{path}: feed entries need a 'url': {item!r}")
    url, name, tags, lang = item["url"].strip(), item.get("name"), item.get("tags"), item.get("lang")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{path}: feed {url}: 'name' must be text, not {name!r}")
    if isinstance(tags, str):  # "tags: kz" is one tag
        tags = [tags]
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ValueError(f"{path}: feed {url}: 'tags' must be a list of words such as [kz, finance], not {tags!r}")
    if lang is not None and normalize_lang(str(lang)) is None:
        raise ValueError(f"{path}: feed {url}: 'lang' must be a language code such as ru or en, not {lang!r}")
    return FeedSpec(url=url, name=name, tags=list(tags or []),
                    lang=normalize_lang(str(lang)) if lang is not None else None)


def _iso(struct) -> str | None:
    if not struct:
        return None
    try:
        return datetime(*struct[:6], tzinfo=timezone.utc).isoformat()
    except (TypeError, ValueError):
        return None


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _precheck_xml(body: bytes):
    """Reject XML that is dangerous to parse (entity expansion, external entities, DTD tricks).

    Two layers: a byte scan for entity declarations that does not depend on the declared encoding (NULs
    removed, so UTF-16/32 documents are caught too), then defusedxml's parser. Returns (the reason to reject the
    document or None, the root element if the document is well-formed XML, else None).
    """
    if _ENTITY_DECL.search(body[:1_000_000].replace(b"\x00", b"")):
        return "forbidden XML construct: the document declares entities (<!ENTITY ...>)", None
    try:
        root = DET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return f"forbidden XML construct ({type(exc).__name__}): {exc}", None
    except (ParseError, ValueError, SyntaxError, LookupError):
        return None, None  # malformed or oddly encoded but harmless: feedparser's tolerant parser decides
    return None, root


# Two parsers. feedparser (pure Python, slow) reads anything: malformed feeds (it salvages their
# entries), any encoding, every RSS/Atom dialect, links it has to derive from an id or GUID. fastfeedparser (lxml,
# many times faster) reads the common case: a well-formed UTF-8 RSS 2.0 / RSS 1.0 / Atom 1.0 document whose entries
# all carry their own link (relative links resolved by feedparser's rules: against the Content-Location, the feed's
# URL, and xml:base). It is used only there, and gives up (feedparser then reads the feed) on anything it
# would read differently; tests/integration/test_feed_corpus.py checks that both give the same entries on every
# feed of feedparser's own test corpus (over 2,000 real-world and tricky feeds) that the fast one takes.
_ATOM = "{http://www.w3.org/2005/Atom}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)
_UTF8 = {"utf-8", "utf8"}


def _linked_entries(root) -> list | None:
    """The entries of the well-formed document ``root``, if every one has its own link (RSS ``<link>``, an Atom
    ``<link>`` to the alternate version); None if one has not, or the document is no RSS 2.0/1.0 or Atom 1.0."""
    if root.tag == "rss":
        entries, links = list(root.iter("item")), [("link", None)]
    elif root.tag == f"{_ATOM}feed":
        entries, links = list(root.iter(f"{_ATOM}entry")), [(f"{_ATOM}link", "href")]
    elif root.tag == "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF":
        entries, links = [e for e in root if e.tag == f"{_RSS1}item"], [(f"{_RSS1}link", None)]
    else:
        return None
    for entry in entries:
        for tag, attr in links:
            found = [e for e in entry.findall(tag) if (e.get(attr) if attr else e.text or "").strip()
                     and (attr is None or e.get("rel", "alternate") == "alternate")]
            if not found:
                return None
    return entries


def _fast_parseable(body: bytes, root, response_headers: dict) -> list | None:
    """The document's entry elements, if fastfeedparser may read it (see above); else None."""
    if root is None or b"<email" in body or b"base64" in body:  # feedparser appends an author's e-mail to the
        return None                                             # name, and decodes base64 content
    declared = _XML_ENCODING.match(body)
    if declared and declared.group(1).decode("ascii", "replace").lower() not in _UTF8:
        return None
    charset = _CHARSET.search(response_headers.get("content-type") or "")
    if charset and charset.group(1).lower() not in _UTF8:
        return None  # feedparser lets the HTTP charset win
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _linked_entries(root)


def _iso_text(value: str | None) -> str | None:
    """fastfeedparser's ISO 8601 date -> UTC, whole seconds (as feedparser's parsed dates)."""
    parsed = datetime.fromisoformat(value)  # ValueError: the caller gives up on the fast parser
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0).isoformat()


_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_BASE_ATTR = re.compile(rb"base\s*=", re.I)


def _base_step(base: str, given: str | None) -> str:
    """The base URI of an element, as feedparser's ``unknown_starttag`` sets it: ``base`` its parent's, ``given``
    the element's own ``xml:base``."""
    given = given or base
    return (_fp_safe_uri(base, given) or base) if base else _fp_urljoin(base, given)


class _OneBase(dict):
    """Every element's bases, where the document sets none: the same for all (see :func:`_link_bases`)."""

    def __init__(self, base: str):
        super().__init__()
        self.base = (base, base)

    def __missing__(self, key):
        return self.base


def _link_bases(body: bytes, root, content_location: str):
    """The base URI feedparser resolves each element's link against: ``{element: (base at its start tag, base at
    its end tag)}`` (Atom's ``href`` is resolved at the start tag, an RSS ``<link>``'s text at the end tag); None
    where feedparser would take a base from something this does not follow (a ``base`` attribute other than
    ``xml:base``), or a base that changes from one nesting level to the next."""
    start = _fp_safe_uri("", content_location) or _fp_safe_uri(content_location) or ""  # as feedparser.parse
    if not _BASE_ATTR.search(body):  # no xml:base: each element gets its parent's base, passed through once more
        first = _base_step(start, None)
        return _OneBase(first) if _base_step(first, None) == first else None
    bases: dict = {}
    stack: list[str] = []
    current = start
    todo = [(root, False)]
    while todo:  # document order, start and end tags, as feedparser's SAX handler sees them
        el, leaving = todo.pop()
        if leaving:
            bases[el] = (bases[el][0], current)
            stack.pop()
            if stack and stack[-1]:  # feedparser's quirk: an empty parent base does not undo a child's xml:base
                current = stack[-1]
            continue
        if any(k != _XML_BASE and k.rpartition("}")[2].lower() == "base" for k in el.attrib):
            return None  # feedparser reads a plain or foreign-namespace base attribute as xml:base
        current = _base_step(current, el.get(_XML_BASE))
        stack.append(current)
        bases[el] = (current, current)
        todo.append((el, True))
        todo.extend((child, False) for child in reversed(el))
    return bases


def _resolved_link(entry, link: str, bases) -> str | None:
    """``link`` (an entry's link as fastfeedparser read it) resolved as feedparser resolves it: against the base
    in effect at the link element of ``entry`` it came from; None if that element is not found or not one."""
    if entry.tag in ("item", f"{_RSS1}item"):
        tag = "link" if entry.tag == "item" else f"{_RSS1}link"
        found = {_fp_urljoin(bases[e][1] or "", link)
                 for e in entry.findall(tag) if (e.text or "").strip() == link and not len(e)}
    else:
        found = {_fp_urljoin(bases[e][0] or "", e.get("href"))
                 for e in entry.findall(f"{_ATOM}link") if (e.get("href") or "").strip() == link}
    return found.pop() if len(found) == 1 else None


def _parse_fast(body: bytes, feed_url: str, root, response_headers: dict) -> PollResult | None:
    """The feed read by fastfeedparser, or None where feedparser must read it (see above). ``root``: the
    pre-check's tree (None: the document is not well-formed)."""
    entries = _fast_parseable(body, root, response_headers)
    if entries is None:
        return None
    bases = _link_bases(body, root, response_headers.get("content-location") or "")
    if bases is None:
        return None
    try:
        parsed = fastfeedparser.parse(body)  # bytes: given a str that looks like a URL, it would fetch that
        title = parsed.feed.get("title")
        if not title or len(parsed.entries) != len(entries):
            return None  # a title with markup (fastfeedparser drops it), an entry it skipped
        result = PollResult(feed_url, "ok", title=title)
        seen: set[str] = set()
        for raw, element in zip(parsed.entries[:MAX_ENTRIES_PER_FEED], entries):
            link = (raw.get("link") or "").strip()
            links = raw.get("links") or []
            if not link or (links and not any(x.get("href") == raw.get("link") and x.get("rel") in (None, "alternate")
                                              for x in links)):
                return None  # feedparser picks this entry's link differently
            link = _resolved_link(element, link, bases)  # relative to the feed's URL or an xml:base
            if link is None:
                return None
            link = link.strip()
            published = raw.get("published") or raw.get("updated")
            _add_entry(result, seen, feed_url, link, title=raw.get("title") or None,
                       published_at=_iso_text(published) if published else None, author=raw.get("author") or None)
        if len(parsed.entries) > MAX_ENTRIES_PER_FEED:
            _too_many(result, len(parsed.entries))
        return result
    except Exception:  # noqa: BLE001 - whatever it cannot read, feedparser reads
        return None


def _add_entry(result: PollResult, seen: set[str], feed_url: str, link: str, *, title: str | None,
               published_at: str | None, author: str | None) -> None:
    if not link:
        result.rejected_entries.append({"title": title, "reason": "entry has no link"})
        return
    link = strip_credentials(link)
    if not link.lower().startswith(("http://", "https://")):
        result.rejected_entries.append({"link": link[:200], "reason": "link is not http(s)"})
        return
    canonical = canonicalize(link)
    if not canonical:
        result.rejected_entries.append({"link": link[:200], "reason": "invalid URL"})
        return
    sid = story_id(canonical)
    if sid in seen:
        return
    seen.add(sid)
    result.entries.append(Entry(id=sid, link=link, canonical_url=canonical, feed=feed_url, title=title,
                                published_at=published_at, author=author))


def _too_many(result: PollResult, n: int) -> None:
    result.rejected_entries.append(
        {"reason": f"feed has {n} entries; only the first {MAX_ENTRIES_PER_FEED} are read"})


def read_fast(body: bytes, response_headers: dict | None = None) -> bool:
    """Whether :func:`parse_feed` reads this document with fastfeedparser (else feedparser does)."""
    danger, root = _precheck_xml(body)
    return danger is None and _parse_fast(body, "http://feed.invalid/", root, response_headers or {}) is not None


def _without_bogus_charset(headers: dict) -> dict:
    """``headers`` without a Content-Type charset that decodes no document (``undefined``, ``idna``...): feedparser
    would let it win and raise; the XML declaration and detection decide instead."""
    ctype = headers.get("content-type") or ""
    found = _CHARSET.search(ctype)
    if not found or text_codec(found.group(1)):
        return headers
    return {**headers, "content-type": ctype.split(";", 1)[0].strip()}


def parse_feed(body: bytes, feed_url: str, response_headers: dict | None = None, *,
               fast: bool = True) -> PollResult:
    """Parse feed bytes into entries. Never raises for bad input: returns status 'error' instead.
    ``fast=False``: feedparser only (the fast parser is tried first otherwise, where it applies)."""
    headers = _without_bogus_charset(response_headers or {})
    danger, root = _precheck_xml(body)
    if danger:
        return PollResult(feed_url, "error", error=danger, error_kind="unsafe_xml")
    result = _parse_fast(body, feed_url, root, headers) if fast else None
    if result is not None:
        return result
    # a file object: given bytes, feedparser first tries them as a path or URL (a body "/etc/x.xml" reads that file)
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    version = parsed.get("version") or ""
    result = PollResult(feed_url, "ok", title=(parsed.feed.get("title") or None) if parsed.get("feed") else None)
    if parsed.bozo:
        exc = parsed.get("bozo_exception")
        reason = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
        # feedparser flags harmless things (e.g. a declared charset that differs) as bozo too;
        # a well-formedness error means the document is broken.
        if not version or not parsed.entries or "not well-formed" in str(exc) or "SAXParseException" in reason:
            result.status = "error"
            result.error = f"malformed feed: {reason}"
            result.error_kind = "malformed_feed"
    if not version and not parsed.entries:
        result.status = "error"
        result.error = result.error or "not an RSS/Atom feed"
        result.error_kind = result.error_kind or "not_a_feed"
        return result
    seen: set[str] = set()
    for raw in parsed.entries[:MAX_ENTRIES_PER_FEED]:
        _add_entry(result, seen, feed_url, (raw.get("link") or "").strip(), title=raw.get("title") or None,
                   published_at=_iso(raw.get("published_parsed") or raw.get("updated_parsed")),
                   author=raw.get("author") or None)
    if len(parsed.entries) > MAX_ENTRIES_PER_FEED:
        _too_many(result, len(parsed.entries))
    return result


def poll_feed(fetcher: Fetcher, feed_url: str, state: dict | None = None, parse=None) -> PollResult:
    """Fetch one feed with conditional GET and parse it (``parse(fn, *args)`` runs the parser: the caller may
    hand it to another process; default: here). Never raises: any failure is this feed's error."""
    try:
        return _poll_feed(fetcher, feed_url, state, parse)
    except Exception as exc:  # noqa: BLE001 - one feed's failure must not stop the others' polls
        return PollResult(feed_url, "error", error=without_credentials(f"{type(exc).__name__}: {str(exc)[:300]}"),
                          error_kind="poll_error")


def _poll_feed(fetcher: Fetcher, feed_url: str, state: dict | None, parse) -> PollResult:
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if state:
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
    try:
        resp = fetcher.get(feed_url, headers=headers, max_bytes=fetcher.settings.max_feed_bytes,
                           accept_types=FEED_TYPES)
    except FetchError as exc:
        return PollResult(feed_url, "error", error=without_credentials(exc.reason), error_kind=exc.kind,
                          http_status=exc.status)
    if resp.status == 304:
        return PollResult(feed_url, "not_modified", etag=state.get("etag") if state else None,
                          last_modified=state.get("last_modified") if state else None, http_status=304)
    # the URL relative links resolve against, as feedparser takes it; a feed's credentials never reach a story link
    headers = {"content-type": resp.headers.get("content-type", ""), "content-location": strip_credentials(resp.url)}
    result = parse(parse_feed, resp.body, feed_url, headers) if parse else parse_feed(resp.body, feed_url, headers)
    result.etag = resp.headers.get("etag")
    result.last_modified = resp.headers.get("last-modified")
    result.http_status = resp.status
    return result


def merge_entries(results: list[PollResult], specs: list[FeedSpec], run_id: str) -> dict[str, dict]:
    """One pipeline entry per story (canonical URL) of the polls, remembering every feed that listed it and the
    outlet's name and tags as the feeds file gives them (each feed by its URL without credentials, as stored);
    entries salvaged from a broken feed count too."""
    merged: dict[str, dict] = {}
    spec_of = {s.url: s for s in specs}
    title_of = {r.feed: r.title for r in results}
    for e in (e for r in results for e in r.entries):
        spec = spec_of.get(e.feed)
        # what the pipeline uses of an entry (not its summary or GUID): held once per new story during the run
        d = merged.setdefault(e.id, {"id": e.id, "link": e.link, "canonical_url": e.canonical_url, "title": e.title,
                                     "published_at": e.published_at, "author": e.author, "feeds": [],
                                     "run_id": run_id, "source_name": None, "feed_title": None, "source_tags": [],
                                     "lang": spec.lang if spec else None})  # the feed's language: a hint
        feed = strip_credentials(e.feed)
        if feed not in d["feeds"]:
            d["feeds"].append(feed)
            d["source_name"] = d["source_name"] or (spec.name if spec else None)
            d["feed_title"] = d["feed_title"] or title_of.get(e.feed)
            d["source_tags"] += [t for t in (spec.tags if spec else []) if t not in d["source_tags"]]
    return merged
