"""The enrich stage: an extracted page -> a validated story document (entities, finance facts), or a dead letter.

Pure functions run inline or in the extraction workers (:mod:`.cpu_pool`), which is why this module must not
import Beam (a worker would pay for it). :func:`analyze_page` is extract then enrich, one trip to a worker.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from ..schemas.records import now_iso
from .budget import PageBudget
from .extract import extract_page
from .outputs import DEAD, MAIN, dead_letter


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


def story_text(page: dict) -> tuple[str, str]:
    """The title and text a story is enriched from (and the recogniser reads): the main text and its captions."""
    from ..extraction.article import enrichment_text

    art = page["article"]
    return art.get("title") or page.get("title") or "", enrichment_text(art.get("text"), art.get("captions"))


def build_story(page: dict, ner_spans: list | None = None, ner_error: str | None = None) -> dict:
    """Enrich one extracted page into a validated Story document (dict with ``_id``). ``ner_spans``: the
    recogniser's names (None: rules only; ``ner_error`` says why the configured recogniser did not run)."""
    from urllib.parse import urlsplit

    from ..extraction import EXTRACTION_VERSION, analyze_text
    from ..extraction.neardup import fingerprint
    from ..extraction.lenders import readable
    from ..schemas import deals
    from ..schemas.story import Story

    art = page["article"]
    title, text = story_text(page)
    published = publication_time(art, page)
    site = art.get("sitename") or urlsplit(page["url"]).hostname
    author = art.get("author") or page.get("author")
    facts = analyze_text(title, text, published=published.date() if published else None, site=site,
                         lang=art.get("lang"), author=author, spans=ner_spans, ner_error=ner_error)
    finance = facts.finance
    readable(finance)
    names = {e.id: e.name for e in facts.entities if e.type == "org"}
    for m in finance:  # a lender only the recogniser knows: its name as the story writes it
        if m.lender in names and m.lender_name == m.lender:
            m.lender_name = names[m.lender]
    usd = [m.usd for m in finance if m.usd is not None]
    story = Story(
        id=page["id"], url=page["url"], canonical_url=page["canonical_url"], feeds=sorted(set(page["feeds"])),
        site=site, source_name=outlet_name(page, art, title),
        source_tags=sorted(set(page.get("source_tags") or [])),
        title=title or None, text=art.get("text") or "", captions=list(art.get("captions") or []), author=author,
        lang=art.get("lang"), published_at=published, fetched_at=page["fetched_at"], ingested_at=now_iso(),
        countries=facts.countries, regions=facts.regions, orgs=facts.orgs, people=facts.people,
        entities=facts.entities, finance=finance, finance_usd_max=max(usd) if usd else None,
        finance_usd_total=round(sum(usd), 2) if usd else None,
        finance_kinds=sorted({m.kind for m in finance}),
        lenders=sorted({m.lender for m in finance if m.lender}),
        lender_countries=sorted({m.lender_country for m in finance if m.lender_country}),
        recipients=sorted({m.recipient for m in finance if m.recipient}),
        deal_usd_total=deals.deal_usd_total(finance), deal_kinds=sorted({m.kind for m in deals.deals(finance)}),
        ner=facts.ner, extraction_version=EXTRACTION_VERSION,
        # alone until newswatch.clustering finds its copies among recent stories, once the run has indexed it
        cluster_id=page["id"], cluster_sites=[site] if site else [], cluster_urls=[page["url"]],
        **fingerprint(art.get("text") or ""),
    )
    doc = story.model_dump(mode="json")
    doc["_id"] = doc["id"]
    if facts.ner_error:  # one error record per run is made of it at indexing (see pipelines.index.BulkIndex)
        doc["_ner_error"] = {"reason": facts.ner_error, "run_id": page.get("run_id")}
    return doc


def recognise(pages: list[dict], nlp) -> tuple[list[list | None], str | None]:
    """The recogniser's spans for each extracted page, in one request (``nlp``: an
    :class:`~newswatch.connectors.nlp.NlpConfig`, or None); ``[None, ...]`` and the reason when it failed."""
    if nlp is None or not pages:
        return [None] * len(pages), None
    from ..connectors.nlp import client
    from ..extraction import full_text

    c = client(nlp)
    found = c.spans([full_text(*story_text(p)) for p in pages])
    return (found, None) if found is not None else ([None] * len(pages), c.last_error)


def enrich_page(page: dict, rates_dir: str | None = None, nlp=None, *, spans=None, ner_error=None) \
        -> tuple[str, dict]:
    """Extracted page -> Story document, or an ``enrich`` dead letter. ``rates_dir``: where the fetched exchange
    rates are (see :mod:`newswatch.extraction.usd`); ``nlp``: the recogniser to call (unless ``spans`` are given)."""
    if rates_dir:
        from ..extraction.usd import use_rates_dir

        use_rates_dir(rates_dir)
    try:
        if spans is None and ner_error is None and nlp is not None:
            (spans,), ner_error = recognise([page], nlp)
        return MAIN, build_story(page, spans, ner_error)
    except Exception as exc:  # noqa: BLE001 - as in extract: the story becomes a dead letter, the run goes on
        return DEAD, dead_letter("enrich", page, f"{type(exc).__name__}: {exc}", "enrich_exception")


def analyze_page(page: dict, min_chars: int, rates_dir: str | None = None, nlp=None,
                 limits: PageBudget | None = None) -> tuple[str, dict]:
    """Fetched page -> Story document: :func:`extract_page` then :func:`enrich_page` (one trip to a worker)."""
    tag, value = extract_page(page, min_chars, limits)
    return enrich_page(value, rates_dir, nlp) if tag == MAIN else (tag, value)


def analyze_pages(pages: list[dict], min_chars: int, rates_dir: str | None = None, nlp=None,
                  limits: PageBudget | None = None) -> list[tuple[str, dict]]:
    """:func:`analyze_page` for a batch: the extracted pages of a batch go to the recogniser in one request."""
    extracted = [extract_page(p, min_chars, limits) for p in pages]
    ok = [v for tag, v in extracted if tag == MAIN]
    spans, error = recognise(ok, nlp)
    by_page = {id(p): s for p, s in zip(ok, spans)}
    return [enrich_page(v, rates_dir, spans=by_page[id(v)], ner_error=error) if tag == MAIN else (tag, v)
            for tag, v in extracted]
