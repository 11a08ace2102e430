"""Place names that do not make a country an actor of the story.

A country is involved when the story names it, its capital acting for it, its people or its institutions. Some
mentions name it for something else: a currency ("U.S. dollars", "$US"), an event or a venue ("Paris 2024"), a
descriptor ("a London-based bank"), a dateline ("ALMATY, July 3 —"), a bank's local arm ("Sberbank Kazakhstan" is a Kazakh bank). These are dropped before
countries, lenders and recipients are read.
"""
from __future__ import annotations

import re
from dataclasses import replace

from .entities import Mention

_CURRENCY_AFTER = re.compile(r"\.?[\s-]*(?:dollars?|cents?)\b", re.I)
_YEAR_AFTER = re.compile(r"\s+(?:19|20)\d\d\b(?![-–/.]\d)")
_BASED_AFTER = re.compile(r"-(?:based|headquartered|registered)\b")
# a dateline: the place, then a date or a dash, starting a line or sentence of the lead
_DATELINE_AFTER = re.compile(r"\s*(?:[,.]\s*(?:\(?[A-Z][\w.]*\)?\s*)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|"
                             r"Dec)[a-z]*\.?\s+\d|\s*[—–]|\s+-{1,2}\s|,?\s*\([A-Z][\w ]+\)\s*[—–-])")


_SENTENCE_START = re.compile(r"(?:^|[.!?]\s|\n)\s*$")


def _is_city(m: Mention) -> bool:
    """A city or a capital standing for its country, not the country's own name or demonym."""
    return m.ref.type == "country" and m.ref.kind in ("place", "state") and m.surface[:1].isupper() and \
        m.surface.upper() != m.surface and _is_capital_form(m)


def _is_capital_form(m: Mention) -> bool:
    from .gazetteer import load

    name = load().country_names.get(m.ref.id, "")
    return m.surface.rstrip("’'s") not in name


def drop_non_actors(text: str, mentions: list[Mention], body_start: int) -> list[Mention]:
    """``mentions`` without the ones that name a place for something else than an actor (see the module)."""
    out: list[Mention] = []
    consumed: set[int] = set()
    for i, m in enumerate(mentions):
        after = text[m.end:m.end + 60]
        if m.ref.type == "country":
            if _CURRENCY_AFTER.match(after) or text[max(0, m.start - 1):m.start] == "$":
                continue  # "U.S. dollars", "100-million-US-dollar", "$US 104.79m"
            if _BASED_AFTER.match(after):
                continue  # "a London-based bank"
            if _is_city(m) and (_YEAR_AFTER.match(after) or (
                    body_start <= m.start < body_start + 400 and _SENTENCE_START.search(text[max(0, m.start - 3):m.start])
                    and _DATELINE_AFTER.match(after))):
                continue  # "Paris 2024", "ALMATY, July 3 -"
        if i in consumed:
            continue
        arm = _named_arm(m)
        if arm is not None:  # a recogniser's span already holds the country: "Sberbank Kazakhstan"
            out.append(Mention(m.start, m.end, m.surface, replace(
                m.ref, id=f"{m.ref.id}-{arm.lower()}", name=m.surface, country=arm, wikidata=None)))
            continue
        if m.ref.type == "org" and m.ref.kind in ("bank", "company") and i + 1 < len(mentions):
            nxt = mentions[i + 1]
            if nxt.ref.type == "country" and text[m.end:nxt.start] == " " and nxt.ref.id != m.ref.country:
                # "Sberbank Kazakhstan": the bank's local arm belongs to the country it is named for
                name = text[m.start:nxt.end]
                out.append(Mention(m.start, nxt.end, name, replace(
                    m.ref, id=f"{m.ref.id}-{nxt.ref.id.lower()}", name=name, country=nxt.ref.id, wikidata=None)))
                consumed.add(i + 1)
                continue
        out.append(m)
    return out


def _named_arm(m: Mention) -> str | None:
    """The country a bank's or company's name ends with, when it is not the organisation's own."""
    if m.ref.type != "org" or m.ref.kind not in ("bank", "company") or " " not in m.surface:
        return None
    from .gazetteer import load, tokens_of

    ref = load().forms.get(tuple(tokens_of(m.surface.rsplit(" ", 1)[1])))
    if ref is not None and ref.type == "country" and ref.id != m.ref.country:
        return ref.id
    return None
