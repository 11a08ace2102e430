"""Finding a site's feeds and its older stories, over newswatch's own fetcher (address guard, limits, user
agent, robots.txt and per-host pacing): trafilatura's feed discovery reads the home page's feed links, its
sitemap search walks robots.txt's sitemaps (or the usual locations) down to story URLs; trafilatura's own
downloads are not used.
"""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from lxml import etree

from .feeds import parse_feed
from .http import FEED_TYPES, FetchError, Fetcher

SITEMAP_TYPES = None  # sitemaps come as XML, text, gzip or anything a server chooses
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")  # tried when no page links one


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class FoundFeed:
    url: str
    title: str | None
    entries: int


def discover_feeds(fetcher: Fetcher, site_url: str, *, max_checked: int = 10) -> list[FoundFeed]:
    """The feeds ``site_url`` (a page or a home page) links to, each fetched and parsed to check that it is a
    feed with entries. When the page cannot be read or links none, the site's home page is asked, then the
    usual feed locations are tried."""
    from trafilatura.feeds import FeedParameters, determine_feed

    home = _base(site_url) + "/"
    pages = [site_url] if site_url.rstrip("/") == home.rstrip("/") else [site_url, home]
    candidates: list[str] = []
    error: FetchError | None = None
    for url in pages:
        try:
            page = fetcher.get(url, accept_types=None)
        except FetchError as exc:
            error = error or FetchError(f"{url}: {exc.reason}", kind=exc.kind, status=exc.status)
            continue
        direct = parse_feed(page.body, page.url, {"content-type": page.headers.get("content-type", "")})
        if direct.status == "ok" and direct.entries:  # the URL is a feed itself
            return [FoundFeed(url, direct.title, len(direct.entries))]
        base = _base(page.url)
        candidates = determine_feed(page.body.decode("utf-8", "replace"),
                                    FeedParameters(base, urlsplit(base).hostname or "", url))
        if candidates:
            break
    if not candidates:
        if error is not None and len(pages) == 1:
            raise error
        candidates = [_base(site_url) + p for p in COMMON_FEED_PATHS]
    found: list[FoundFeed] = []
    for url in candidates[:max_checked]:
        try:
            resp = fetcher.get(url, accept_types=FEED_TYPES, max_bytes=fetcher.settings.max_feed_bytes)
        except FetchError:
            continue
        result = parse_feed(resp.body, url, {"content-type": resp.headers.get("content-type", "")})
        if result.status == "ok" and result.entries and url not in {f.url for f in found}:
            found.append(FoundFeed(url, result.title, len(result.entries)))
    return found


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class SitemapResult:
    urls: dict[str, datetime | None] = field(default_factory=dict)  # story URL -> its date in the sitemap
    sitemaps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _sitemap_class():
    from trafilatura.sitemaps import SitemapObject

    class Sitemap(SitemapObject):
        """trafilatura's sitemap walker, fetching with newswatch's fetcher and keeping each URL's date
        (``<lastmod>``, or a news sitemap's ``<news:publication_date>``), which ``--since`` needs."""

        __slots__ = ("fetcher", "dates", "errors", "max_bytes")

        def fetch(self) -> None:
            self.seen.add(self.current_url)
            try:
                body = self.fetcher.get(self.current_url, accept_types=SITEMAP_TYPES, max_bytes=self.max_bytes).body
            except FetchError as exc:
                self.errors.append(f"{self.current_url}: {exc.reason}")
                self.content = ""
                return
            if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not with a Content-Encoding
                with gzip.GzipFile(fileobj=io.BytesIO(body)) as gz:
                    body = gz.read(self.max_bytes + 1)[: self.max_bytes]
            self.content = body.decode("utf-8", "replace")

        def handle_link(self, link: str) -> None:
            # trafilatura's, with the site's host compared directly when it has no registered domain (an IP)
            from courlan import clean_url, extract_domain, lang_filter
            from trafilatura.deduplication import is_similar_domain
            from trafilatura.sitemaps import DETECT_SITEMAP_LINK
            from trafilatura.utils import safe_relative_url

            if link == self.current_url:
                return
            link = safe_relative_url(self.base_url, link)
            if not lang_filter(link, self.target_lang):
                return
            link = clean_url(link, self.target_lang) or ""
            if not link:
                return
            domain = extract_domain(link, fast=True) or urlsplit(link).hostname
            if not domain or not is_similar_domain(self.domain, domain):
                return
            if DETECT_SITEMAP_LINK.search(link):
                self.sitemap_urls.append(link)
            else:
                self.urls.append(link)

        def extract_sitemap_links(self) -> None:
            parser = etree.XMLParser(encoding="utf-8", resolve_entities=False, no_network=True, recover=True)
            try:
                tree = etree.fromstring(self.content.encode("utf-8"), parser)
            except etree.XMLSyntaxError:
                return
            if tree is None:
                return
            for element in tree.iter("{*}url", "{*}sitemap", "url", "sitemap"):
                loc = next((c.text for c in element if etree.QName(c).localname == "loc" and c.text), None)
                if not loc or not loc.strip().startswith("http"):
                    continue
                date = None
                for c in element.iter():
                    if etree.QName(c).localname in ("publication_date", "lastmod") and c.text:
                        date = _parse_date(c.text) or date
                        if etree.QName(c).localname == "publication_date":
                            break
                before = len(self.urls)
                self.handle_link(loc.strip())
                if len(self.urls) > before:
                    self.dates[self.urls[-1]] = date

    return Sitemap


def sitemap_urls(fetcher: Fetcher, site_url: str, *, max_sitemaps: int = 50,
                 robots_sitemaps: list[str] | None = None) -> SitemapResult:
    """Story URLs from the site's sitemaps (those robots.txt names, else the usual locations), walking sitemap
    indexes down to at most ``max_sitemaps`` sitemaps; each URL with its date when the sitemap gives one."""
    from trafilatura.sitemaps import GUESSES

    base = _base(site_url)
    host = urlsplit(base).hostname or ""
    path = urlsplit(site_url).path
    start = [site_url] if path.endswith((".xml", ".gz", "sitemap")) else []
    Sitemap = _sitemap_class()
    walker = Sitemap(base, host, start)
    walker.fetcher = fetcher
    walker.dates = {}
    walker.errors = []
    walker.max_bytes = fetcher.settings.max_feed_bytes
    if not walker.sitemap_urls:
        walker.sitemap_urls = list(robots_sitemaps or []) or [f"{base}/{g}" for g in reversed(GUESSES)]
    while walker.sitemap_urls and len(walker.seen) < max_sitemaps:
        walker.current_url = walker.sitemap_urls.pop()
        walker.fetch()
        if walker.content:
            walker.process()
        walker.sitemap_urls = [s for s in walker.sitemap_urls if s not in walker.seen]
    result = SitemapResult(sitemaps=sorted(walker.seen), errors=walker.errors)
    for url in walker.urls:
        result.urls.setdefault(url, walker.dates.get(url))
    return result


def select_backfill(found: dict[str, datetime | None], since: datetime, limit: int,
                    include_undated: bool = False) -> tuple[list[tuple[str, datetime | None]], int]:
    """The URLs dated ``since`` or later (newest first, at most ``limit``), and how many had no date (taken last
    when ``include_undated``, else left out)."""
    dated = sorted(((u, d) for u, d in found.items() if d is not None and d >= since), key=lambda x: x[1],
                   reverse=True)
    undated = [(u, None) for u, d in found.items() if d is None]
    chosen = dated + (undated if include_undated else [])
    return chosen[:limit], len(undated)



def add_to_feeds_file(path, feeds: list[FoundFeed]) -> list[str]:
    """Append ``feeds`` not listed yet to a feeds file (YAML ``feeds:`` list or plain text; created if missing),
    keeping what is there, comments included. Returns the URLs added; a file it cannot append to safely is left
    as it was (ValueError)."""
    from pathlib import Path

    from .feeds import load_feed_list

    path = Path(path)
    listed = {s.url for s in load_feed_list(path)} if path.exists() else set()
    new = [f for f in feeds if f.url not in listed]
    if not new:
        return []
    original = path.read_text(encoding="utf-8") if path.exists() else None
    text = original or ""
    if text and not text.endswith("\n"):
        text += "\n"
    if path.suffix in (".yaml", ".yml"):
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            text += "feeds:\n"
        indent = next((line[:len(line) - len(line.lstrip())] for line in reversed(lines)
                       if line.lstrip().startswith("- ")), "  ")
        for f in new:
            text += f"{indent}- url: {_yaml_str(f.url)}\n" + (f"{indent}  name: {_yaml_str(f.title)}\n" if f.title else "")
    else:
        text += "".join(f"{f.url}\n" for f in new)
    path.write_text(text, encoding="utf-8")
    try:
        after = {s.url for s in load_feed_list(path)}
    except Exception as exc:  # noqa: BLE001 - whatever broke the file, it is put back
        after, why = set(), f"{type(exc).__name__}: {exc}"
    else:
        why = "the feeds do not read back"
    if not (listed | {f.url for f in new}) <= after:
        if original is None:
            path.unlink()
        else:
            path.write_text(original, encoding="utf-8")
        raise ValueError(f"{path}: cannot append to this file safely ({why}); add the feeds by hand")
    return [f.url for f in new]


def _yaml_str(value: str) -> str:
    """A YAML scalar that reads back as ``value`` (a JSON string is one)."""
    import json

    return json.dumps(value, ensure_ascii=False)
