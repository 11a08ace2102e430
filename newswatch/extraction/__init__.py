"""Pure extraction functions: text in, structured facts out (no Beam, no I/O beyond packaged data).

    from newswatch.extraction import extract, html_to_article, EXTRACTION_VERSION
"""
from __future__ import annotations

from datetime import date

from ..schemas.story import Entity, ExtractionResult
from .article import html_to_article
from .entities import Mention, find_mentions
from .finance import find_finance

EXTRACTION_VERSION = "2026.12.1"
# organisations whose country is not implied by a mention ("the Washington Post reported" is not about the US)
NON_STATE_KINDS = frozenset({"media", "research", "ngo", "university"})

__all__ = ["extract", "html_to_article", "warm", "EXTRACTION_VERSION"]


def extract(title: str, text: str, *, published: date | None = None, site: str | None = None,
            lang: str | None = None) -> ExtractionResult:
    """Entities and finance mentions of one story. Offsets are into ``title + "\\n\\n" + text``."""
    full = f"{title or ''}\n\n{text or ''}"
    doc = None
    if lang == "ru":
        from .ru import entities as ru_entities
        from .ru.nlp import analyze

        doc = analyze(full)
        mentions = ru_entities.find_mentions(full, doc)
    else:
        mentions = find_mentions(full)
    # per entity: its first mention, how often it is mentioned and its surface forms (plain values while counting:
    # a pydantic model's attribute assignment costs a microsecond each)
    seen: dict[tuple[str, str], tuple[Mention, list[int], list[str]]] = {}
    countries: set[str] = set()
    for m in mentions:
        ref = m.ref
        key = (ref.type, ref.id)
        got = seen.get(key)
        if got is None:
            got = seen[key] = (m, [0], [])
        got[1][0] += 1
        if m.surface not in got[2]:
            got[2].append(m.surface)
        if ref.type == "country":
            countries.add(ref.id)
        elif ref.type == "org" and ref.country and ref.kind not in NON_STATE_KINDS:
            countries.add(ref.country)  # "China Development Bank": the state is involved too
    entities = [Entity(type=m.ref.type, id=m.ref.id, name=m.ref.name, wikidata=m.ref.wikidata, surface_forms=forms,
                       count=count[0], start=m.start, end=m.end) for m, count, forms in seen.values()]
    headlines = [(0, len(title or ""))]
    body_start = len(title or "") + 2
    if title and (text or "").startswith(title):  # trafilatura's text often repeats the headline
        headlines.append((body_start, body_start + len(title)))
    if doc is not None:
        from .ru.finance import find_finance as find_finance_ru

        found = find_finance_ru(full, mentions, doc, published=published, site=site)
    else:
        found = find_finance(full, mentions, published=published, site=site, lang=lang)
    finance = _dedupe(found, headlines)
    ordered = sorted(entities, key=lambda e: e.start)
    return ExtractionResult(
        countries=sorted(countries),
        regions=[e.id for e in ordered if e.type == "region"],
        orgs=[e.id for e in ordered if e.type == "org"],
        people=[e.id for e in ordered if e.type == "person"],
        entities=ordered,
        finance=finance,
    )


def warm() -> None:
    """Build the lookup tables and run every code path once, so the first real story is not the slow one."""
    from .gazetteer import load
    from .usd import warm as warm_rates

    load()
    warm_rates()
    body = "<p>Kazakhstan received a $100 million loan from the Asian Development Bank, officials said.</p>" * 4
    art = html_to_article(f"<html><head><title>Warm-up</title></head><body><article>{body}</article></body></html>",
                          min_chars=0)
    extract(art["title"] or "", art["text"], published=date(2024, 1, 2))


def _dedupe(mentions, headlines: list[tuple[int, int]]):
    """A headline repeats an amount of the body: keep the body's mention, with the parties of both."""
    def in_headline(m) -> bool:
        return any(a <= m.start < b for a, b in headlines)

    body = [m for m in mentions if not in_headline(m)]
    out = list(body)
    kept_heads = []
    for t in (m for m in mentions if in_headline(m)):
        twin = next((b for b in body if b.amount == t.amount and b.currency == t.currency), None) or \
            next((h for h in kept_heads if h.amount == t.amount and h.currency == t.currency), None)
        if twin is None:
            out.append(t)
            kept_heads.append(t)
            continue
        twin.recipient = twin.recipient or t.recipient
        twin.lender = twin.lender or t.lender
        if twin.kind == "other":
            twin.kind = t.kind
    return sorted(out, key=lambda m: m.start)
