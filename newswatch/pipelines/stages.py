"""The pure work of the pipeline's CPU stages, without Beam: page -> article -> story document.

Each stage function takes one element and returns ``(MAIN, value)`` or ``(DEAD, error record)``; the DoFns in
:mod:`newswatch.pipelines.ingest` run them inline or in worker processes (:mod:`newswatch.pipelines.cpu_pool`),
which is why this module must not import Beam (a worker would pay for it).
"""
from __future__ import annotations

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


def build_story(page: dict) -> dict:
    """Enrich one extracted page into a validated Story document (dict with ``_id``)."""
    from urllib.parse import urlsplit

    from ..extraction import EXTRACTION_VERSION, extract
    from ..extraction.neardup import fingerprint
    from ..schemas.story import Story

    art = page["article"]
    title = art.get("title") or page.get("title") or ""
    text = art.get("text") or ""
    published = parse_date(art.get("date")) or parse_date(page.get("published_at"))
    site = art.get("sitename") or urlsplit(page["url"]).hostname
    facts = extract(title, text, published=published.date() if published else None, site=site,
                    lang=art.get("lang"))
    usd = [m.usd for m in facts.finance if m.usd is not None]
    story = Story(
        id=page["id"], url=page["url"], canonical_url=page["canonical_url"], feeds=sorted(set(page["feeds"])),
        site=site, title=title or None, text=text, author=art.get("author") or page.get("author"),
        lang=art.get("lang"), published_at=published, fetched_at=page["fetched_at"], ingested_at=now(),
        countries=facts.countries, regions=facts.regions, orgs=facts.orgs, people=facts.people,
        entities=facts.entities, finance=facts.finance, finance_usd_max=max(usd) if usd else None,
        finance_usd_total=round(sum(usd), 2) if usd else None,
        finance_kinds=sorted({m.kind for m in facts.finance}),
        lenders=sorted({m.lender for m in facts.finance if m.lender}),
        recipients=sorted({m.recipient for m in facts.finance if m.recipient}),
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
        article = html_to_article(html, url=page["url"], min_chars=min_chars, author_hint=page.get("author"))
    except Exception as exc:
        return DEAD, dead_letter("extract", page, f"{type(exc).__name__}: {exc}", "extract_exception")
    text = ((article or {}).get("text") or "").strip()
    if len(text) < min_chars:
        return DEAD, dead_letter("extract", page, f"no extractable main text ({len(text)} characters found, "
                                                  f"at least {min_chars} needed)", "no_text")
    page["article"] = article
    return MAIN, page


def enrich_page(page: dict) -> tuple[str, dict]:
    """Extracted page -> Story document, or an ``enrich`` dead letter."""
    try:
        return MAIN, build_story(page)
    except Exception as exc:
        return DEAD, dead_letter("enrich", page, f"{type(exc).__name__}: {exc}", "enrich_exception")


def analyze_page(page: dict, min_chars: int) -> tuple[str, dict]:
    """Fetched page -> Story document: :func:`extract_page` then :func:`enrich_page` (one trip to a worker)."""
    tag, value = extract_page(page, min_chars)
    return enrich_page(value) if tag == MAIN else (tag, value)
