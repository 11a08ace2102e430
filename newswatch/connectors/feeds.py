"""Feed polling: conditional GET, safe XML pre-check, feedparser, normalised entries.

Per-feed state (ETag, Last-Modified, last status) is kept in Elasticsearch by the caller
(:mod:`newswatch.connectors.es`); this module is I/O over HTTP only.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.etree.ElementTree import ParseError

import courlan
import defusedxml.ElementTree as DET
import feedparser
import yaml
from defusedxml import DefusedXmlException

from .http import FEED_TYPES, FetchError, Fetcher

MAX_ENTRIES_PER_FEED = 5000


@dataclass
class FeedSpec:
    url: str
    name: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Entry:
    """One feed entry pointing at a story; ``id`` is the future document id."""

    id: str
    link: str  # as listed in the feed
    canonical_url: str
    feed: str
    title: str | None = None
    guid: str | None = None
    published_at: str | None = None  # ISO 8601
    author: str | None = None
    summary: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


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
    """Canonical form of a story URL: tracking parameters (utm_*, fbclid...) dropped, host lower-cased."""
    try:
        cleaned = courlan.clean_url(url.strip())
        if not cleaned:
            return None
        return courlan.normalize_url(cleaned, strict=True)
    except (ValueError, TypeError):
        return None


def story_id(canonical_url: str) -> str:
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """A feeds file: YAML (``feeds: [{url, name, tags}]`` or a list of URLs) or plain text, one URL a line."""
    text = Path(path).read_text(encoding="utf-8")
    specs: list[FeedSpec] = []
    if str(path).endswith((".yaml", ".yml")):
        data = yaml.safe_load(text) or {}
        items = data.get("feeds", []) if isinstance(data, dict) else data
        for item in items:
            if isinstance(item, str):
                specs.append(FeedSpec(url=item))
            elif isinstance(item, dict) and item.get("url"):
                specs.append(FeedSpec(url=item["url"], name=item.get("name"), tags=list(item.get("tags") or [])))
            else:
                raise ValueError(f"{path}: feed entries need a 'url': {item!r}")
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                specs.append(FeedSpec(url=line))
    return specs


def _iso(struct) -> str | None:
    if not struct:
        return None
    try:
        return datetime(*struct[:6], tzinfo=timezone.utc).isoformat()
    except (TypeError, ValueError):
        return None


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _precheck_xml(body: bytes) -> str | None:
    """Reject XML that is dangerous to parse (entity expansion, external entities, DTD tricks).

    Two layers: a byte scan for entity declarations that does not depend on the declared encoding (NULs
    removed, so UTF-16/32 documents are caught too), then defusedxml's parser.
    """
    if _ENTITY_DECL.search(body[:1_000_000].replace(b"\x00", b"")):
        return "forbidden XML construct: the document declares entities (<!ENTITY ...>)"
    try:
        DET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return f"forbidden XML construct ({type(exc).__name__}): {exc}"
    except (ParseError, ValueError, SyntaxError, LookupError):
        return None  # malformed or oddly encoded but harmless: feedparser's tolerant parser decides
    return None


def parse_feed(body: bytes, feed_url: str, response_headers: dict | None = None) -> PollResult:
    """Parse feed bytes into entries. Never raises for bad input: returns status 'error' instead."""
    danger = _precheck_xml(body)
    if danger:
        return PollResult(feed_url, "error", error=danger, error_kind="unsafe_xml")
    parsed = feedparser.parse(body, response_headers=response_headers or {}, sanitize_html=False,
                              resolve_relative_uris=False)
    version = parsed.get("version") or ""
    result = PollResult(feed_url, "ok", title=(parsed.feed.get("title") if parsed.get("feed") else None))
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
        link = (raw.get("link") or "").strip()
        if not link:
            result.rejected_entries.append({"title": raw.get("title"), "reason": "entry has no link"})
            continue
        if not link.lower().startswith(("http://", "https://")):
            result.rejected_entries.append({"link": link[:200], "reason": "link is not http(s)"})
            continue
        canonical = canonicalize(link)
        if not canonical:
            result.rejected_entries.append({"link": link[:200], "reason": "invalid URL"})
            continue
        sid = story_id(canonical)
        if sid in seen:
            continue
        seen.add(sid)
        result.entries.append(Entry(
            id=sid, link=link, canonical_url=canonical, feed=feed_url,
            title=(raw.get("title") or None), guid=raw.get("id") or None,
            published_at=_iso(raw.get("published_parsed") or raw.get("updated_parsed")),
            author=raw.get("author") or None, summary=(raw.get("summary") or None),
        ))
    if len(parsed.entries) > MAX_ENTRIES_PER_FEED:
        result.rejected_entries.append(
            {"reason": f"feed has {len(parsed.entries)} entries; only the first {MAX_ENTRIES_PER_FEED} are read"})
    return result


def poll_feed(fetcher: Fetcher, feed_url: str, state: dict | None = None, parse=None) -> PollResult:
    """Fetch one feed with conditional GET and parse it (``parse(fn, *args)`` runs the parser: the caller may
    hand it to another process; default: here)."""
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
        return PollResult(feed_url, "error", error=exc.reason, error_kind=exc.kind, http_status=exc.status)
    if resp.status == 304:
        return PollResult(feed_url, "not_modified", etag=state.get("etag") if state else None,
                          last_modified=state.get("last_modified") if state else None, http_status=304)
    headers = {"content-type": resp.headers.get("content-type", ""), "content-location": resp.url}
    result = parse(parse_feed, resp.body, feed_url, headers) if parse else parse_feed(resp.body, feed_url, headers)
    result.etag = resp.headers.get("etag")
    result.last_modified = resp.headers.get("last-modified")
    result.http_status = resp.status
    return result
