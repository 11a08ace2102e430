"""Pure extraction functions: text in, structured facts out (no Beam, no I/O beyond packaged data).

    from newswatch.extraction import extract, html_to_article, EXTRACTION_VERSION
"""
from __future__ import annotations

from datetime import date

from ..schemas.story import Entity, ExtractionResult
from .actors import drop_non_actors
from .article import html_to_article
from .entities import Mention, find_mentions
from .finance import _Sentences, find_finance
from .kinds import headline_kind
from .parties import drop_repeats, fill_from_story, mark_equivalents_and_repeats
from .ner import merge

EXTRACTION_VERSION = "2026.12.3"
# organisations whose country is not implied by a mention ("the Washington Post reported" is not about the US)
NON_STATE_KINDS = frozenset({"media", "state-media", "research", "ngo", "university"})

__all__ = ["analyze_text", "extract", "full_text", "html_to_article", "warm", "EXTRACTION_VERSION"]


def full_text(title: str | None, text: str | None) -> str:
    """The string every offset refers to (and the recogniser reads): ``title + "\\n\\n" + text``."""
    return f"{title or ''}\n\n{text or ''}"


def extract(title: str, text: str, *, published: date | None = None, site: str | None = None,
            lang: str | None = None, ner_spans: list | None = None) -> ExtractionResult:
    """Entities and finance mentions of one story. Offsets are into :func:`full_text`; ``ner_spans`` are a
    recogniser's names over that string (:mod:`.ner`), merged with the gazetteer's. A Russian story is read with
    natasha (its names merged the same way)."""
    full = full_text(title, text)
    doc = None
    if lang == "ru":
        from .ru import entities as ru_entities
        from .ru.nlp import analyze

        doc = analyze(full)
        # in Russian news a surname alone names a person ("Жапаров заявил")
        from .ru.gazetteer import load as load_ru

        mentions = merge(full, ru_entities.find_mentions(full, doc), ru_entities.ner_spans(doc), single_names=True,
                         gazetteer=load_ru().refs.keys())
    else:
        mentions = find_mentions(full)
        if ner_spans is not None:
            mentions = merge(full, mentions, ner_spans)
        mentions = drop_non_actors(full, mentions, len(title or "") + 2)
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
    mark_equivalents_and_repeats(finance, full)
    if finance:
        fill_from_story(finance, full, len(title or ""), mentions, _Sentences(full).bounds,
                        headline_kind(full, len(title or "")))
        finance = drop_repeats(finance)
    ordered = sorted(entities, key=lambda e: e.start)
    return ExtractionResult(
        countries=sorted(countries),
        regions=[e.id for e in ordered if e.type == "region"],
        orgs=[e.id for e in ordered if e.type == "org"],
        people=[e.id for e in ordered if e.type == "person"],
        entities=ordered,
        finance=finance,
    )


def analyze_text(title: str, text: str, *, published: date | None = None, site: str | None = None,
                 lang: str | None = None, author: str | None = None, nlp=None, spans: list | None = None,
                 ner_error: str | None = None) -> ExtractionResult:
    """What the enrich stage does for one story: the recogniser's names — ``spans`` already found, or asked of
    the service ``nlp`` (an :class:`~newswatch.connectors.nlp.NlpConfig`; None: rules only) — then
    :func:`extract`, and the byline's people. ``ner`` on the result says which recogniser ran ("rules" also when
    the service failed; ``ner_error`` says why)."""
    if lang == "ru":
        nlp, spans, ner_error = None, None, None  # natasha reads Russian inside extract(); CoreNLP's model is English
    if spans is None and ner_error is None and nlp is not None:
        from ..connectors.nlp import client

        c = client(nlp)
        found = c.spans([full_text(title, text)])
        spans, ner_error = (found[0], None) if found is not None else (None, c.last_error)
    result = extract(title, text, published=published, site=site, lang=lang, ner_spans=spans)
    _add_bylines(result, author)
    result.ner = "natasha" if lang == "ru" else "corenlp" if spans is not None else "rules"
    result.ner_error = ner_error
    return result


def _add_bylines(result: ExtractionResult, author: str | None) -> None:
    """People the byline names are people of the story (offset 0: they stand before the headline)."""
    from .gazetteer import load, tokens_of
    from .ner import bylines, stable_id

    for name in bylines(author):
        ref = load().forms.get(tuple(tokens_of(name)))
        pid = ref.id if ref is not None and ref.type == "person" else stable_id(name)
        if any(e.type == "person" and (e.id == pid or name in e.surface_forms) for e in result.entities):
            continue
        result.entities.insert(0, Entity(type="person", id=pid, name=ref.name if ref and ref.type == "person"
                                         else name, wikidata=ref.wikidata if ref else None, surface_forms=[name]))
        result.people.insert(0, pid)


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
