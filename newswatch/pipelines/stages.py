"""The pure work of the pipeline's CPU stages, without Beam: page -> article -> story document.

Each stage function takes one element and returns ``(MAIN, value)`` or ``(DEAD, error record)``; the DoFns in
:mod:`newswatch.pipelines.ingest` run them inline or in worker processes (:mod:`newswatch.pipelines.cpu_pool`),
which is why this module must not import Beam (a worker would pay for it).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

MAIN = "main"
DEAD = "dead"


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def dead_letter(stage: str, element: dict, reason: str, kind: str | None = None, status: int | None = None) -> dict:
    from ..connectors.es import error_record

    return error_record(stage, reason, url=element.get("link") or element.get("url"),
                        feed=(element.get("feeds") or [None])[0], story_id=element.get("id"),
                        error_type=kind, http_status=status, run_id=element.get("run_id"))


def decode_html(body: bytes, declared: str | None) -> str | bytes:
    """Valid UTF-8 wins (declared charsets are often wrong), then the declared charset, then detection."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return body.decode(declared, errors="replace")
        except LookupError:
            pass
    return body  # trafilatura detects the encoding from the bytes and any <meta charset>


def parse_date(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def publication_time(art: dict, page: dict) -> datetime | None:
    """When the story was published, with the time of day and zone where the page or the feed gives them: the
    page's own timestamp, else the feed's when it falls within a day of the page's date, else the page's date."""
    stamp = parse_date(art.get("published"))
    if stamp is not None:
        return stamp
    feed = parse_date(page.get("published_at"))
    day = parse_date(art.get("date"))
    if feed is not None and (day is None or abs((feed - day).total_seconds()) < 2 * 86400):
        return feed
    return day


_BRACKET_BEFORE = re.compile(r"[(\[]\s*(?:about|around|roughly|approximately|approx\.|some|nearly|almost|or|"
                             r"equivalent to|worth|i\.e\.)?\s*$", re.I)


def mark_equivalents_and_repeats(finance, full_text: str) -> None:
    """A bracketed amount in another currency right after an amount converts it ("8 billion yuan (about
    $1.1 billion)"): ``equivalent_of``; the same amount and currency again later: ``repeat_of`` the first."""
    for i, m in enumerate(finance):
        if m.equivalent_of is not None or m.repeat_of is not None:
            continue
        prev = finance[i - 1] if i else None
        if (prev is not None and prev.currency != m.currency and prev.end <= m.start
                and _BRACKET_BEFORE.search(full_text[prev.end:m.start]) and m.start - prev.end < 20):
            m.equivalent_of = i - 1
            continue
        first = next((j for j, o in enumerate(finance[:i]) if o.amount == m.amount and o.currency == m.currency
                      and o.amount_max == m.amount_max and o.repeat_of is None and o.equivalent_of is None), None)
        if first is not None:
            m.repeat_of = first


def outlet_name(page: dict, art: dict, title: str) -> str | None:
    """Who published the story, for people to read: the feeds file's name for the feed, else the page's site
    name (unless it is really a headline), else the feed's title, else the host name."""
    from urllib.parse import urlsplit

    parts = urlsplit(page["url"])
    hosts = {parts.netloc.lower(), (parts.hostname or "").lower(), (parts.hostname or "").lower().removeprefix("www.")}
    site = (art.get("sitename") or "").strip()
    if site and (site == title.strip() or site.lower() in hosts or len(site) > 60 or len(site.split()) > 6):
        site = ""  # a headline or the address, not a name
    return page.get("source_name") or site or page.get("feed_title") or parts.hostname


def build_story(page: dict) -> dict:
    """Enrich one extracted page into a validated Story document (dict with ``_id``)."""
    from urllib.parse import urlsplit

    from ..extraction import EXTRACTION_VERSION, extract
    from ..extraction.neardup import fingerprint
    from ..extraction.lenders import readable
    from ..schemas import deals
    from ..schemas.story import Story

    art = page["article"]
    title = art.get("title") or page.get("title") or ""
    text = art.get("text") or ""
    published = publication_time(art, page)
    site = art.get("sitename") or urlsplit(page["url"]).hostname
    facts = extract(title, text, published=published.date() if published else None, site=site,
                    lang=art.get("lang"))
    finance = facts.finance
    mark_equivalents_and_repeats(finance, f"{title}\n\n{text}")
    readable(finance)
    usd = [m.usd for m in finance if m.usd is not None]
    story = Story(
        id=page["id"], url=page["url"], canonical_url=page["canonical_url"], feeds=sorted(set(page["feeds"])),
        site=site, source_name=outlet_name(page, art, title),
        source_tags=sorted(set(page.get("source_tags") or [])),
        title=title or None, text=text, author=art.get("author") or page.get("author"),
        lang=art.get("lang"), published_at=published, fetched_at=page["fetched_at"], ingested_at=now(),
        countries=facts.countries, regions=facts.regions, orgs=facts.orgs, people=facts.people,
        entities=facts.entities, finance=finance, finance_usd_max=max(usd) if usd else None,
        finance_usd_total=round(sum(usd), 2) if usd else None,
        finance_kinds=sorted({m.kind for m in finance}),
        lenders=sorted({m.lender for m in finance if m.lender}),
        lender_countries=sorted({m.lender_country for m in finance if m.lender_country}),
        recipients=sorted({m.recipient for m in finance if m.recipient}),
        deal_usd_total=deals.deal_usd_total(finance), deal_kinds=sorted({m.kind for m in deals.deals(finance)}),
        extraction_version=EXTRACTION_VERSION,
        # alone until newswatch.clustering finds its copies among recent stories, once the run has indexed it
        cluster_id=page["id"], cluster_sites=[site] if site else [], cluster_urls=[page["url"]],
        **fingerprint(text),
    )
    doc = story.model_dump(mode="json")
    doc["_id"] = doc["id"]
    return doc


def extract_page(page: dict, min_chars: int) -> tuple[str, dict]:
    """Fetched page -> the page with its ``article`` (main text and metadata), or an ``extract`` dead letter."""
    from ..extraction import html_to_article

    html = decode_html(page.pop("html"), page.pop("charset", None))
    try:
        article = html_to_article(html, url=page["url"], min_chars=min_chars, author_hint=page.get("author"),
                                  lang_hint=page.get("lang"))
    except Exception as exc:
        return DEAD, dead_letter("extract", page, f"{type(exc).__name__}: {exc}", "extract_exception")
    text = ((article or {}).get("text") or "").strip()
    if len(text) < min_chars:
        return DEAD, dead_letter("extract", page, f"no extractable main text ({len(text)} characters found, "
                                                  f"at least {min_chars} needed)", "no_text")
    page["article"] = article
    return MAIN, page


def enrich_page(page: dict, rates_dir: str | None = None) -> tuple[str, dict]:
    """Extracted page -> Story document, or an ``enrich`` dead letter. ``rates_dir``: where the fetched exchange
    rates are (see :mod:`newswatch.extraction.usd`)."""
    if rates_dir:
        from ..extraction.usd import use_rates_dir

        use_rates_dir(rates_dir)
    try:
        return MAIN, build_story(page)
    except Exception as exc:
        return DEAD, dead_letter("enrich", page, f"{type(exc).__name__}: {exc}", "enrich_exception")


def analyze_page(page: dict, min_chars: int, rates_dir: str | None = None) -> tuple[str, dict]:
    """Fetched page -> Story document: :func:`extract_page` then :func:`enrich_page` (one trip to a worker)."""
    tag, value = extract_page(page, min_chars)
    return enrich_page(value, rates_dir) if tag == MAIN else (tag, value)
