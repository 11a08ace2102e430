"""Names a trained recogniser found (NER spans), merged with the gazetteer's mentions. Pure and language-neutral.

A recogniser — Stanford CoreNLP for English (:mod:`newswatch.connectors.nlp`), natasha for Russian — gives
:class:`NerSpan` s over the same string the gazetteer read (``title + "\\n\\n" + text``). :func:`merge` combines
them with :func:`newswatch.extraction.entities.find_mentions`' output:

* a gazetteer entity keeps its id and Wikidata QID: a span that overlaps a gazetteer person, organisation or
  place adds nothing;
* a new person or organisation gets a stable id from its name (its ``lemma`` when the recogniser gives one, so
  «Садыра Жапарова» and «Садыр Жапаров» are one id), the same id in every story;
* a surname-only mention joins the full name found in the story ("Japarov" -> "Sadyr Japarov"), an acronym
  the organisation it abbreviates ("ADB" after "Asian Development Bank (ADB)", or by its initials); a
  one-word person that joins nobody is dropped (a given name alone is not an identity);
* a LOC, MISC or PER span that is longer than a gazetteer country or region hit inside it vetoes that hit: the
  word is part of another name there ("Paris 2024", "Turkistan Region", "Chad Smith"). Spans never add a
  country the gazetteer did not find;
* names found by the rules (no gazetteer entry) stay, unless the recogniser read the same words as the other
  type of name (a rule's "person" that the recogniser calls an organisation becomes that organisation).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .entities import Mention
from .gazetteer import Ref, fold, load, tokens_of

LABELS = ("PER", "ORG", "LOC", "MISC")
RECOGNISED = "recognised"  # the kind of an organisation only the recogniser knows (it may be a lender)
_TYPE = {"PER": "person", "ORG": "org"}
# CoreNLP's and other recognisers' label names
ALIASES = {"PERSON": "PER", "ORGANIZATION": "ORG", "ORGANISATION": "ORG", "LOCATION": "LOC", "GPE": "LOC"}


@dataclass(frozen=True)
class NerSpan:
    """One name a recogniser found: ``text[start:end]``, its label, and optionally its normal (nominative) form
    and a key that is the same for every inflected form of the name (its lemmas)."""

    start: int
    end: int
    label: str  # PER | ORG | LOC | MISC
    text: str
    normal: str | None = None
    lemma: str | None = None


def span(text: str, start: int, end: int, label: str) -> NerSpan | None:
    """A :class:`NerSpan` of ``text`` with the label normalised; None for labels that are not names."""
    label = ALIASES.get(label, label)
    if label not in LABELS or not 0 <= start < end <= len(text):
        return None
    return NerSpan(start, end, label, text[start:end])


@lru_cache(maxsize=4)
def _known(gazetteer_id: int) -> frozenset[tuple[str, str]]:
    return frozenset((ref.type, ref.id) for ref in load().forms.values())


def _in_english_gazetteer(m: Mention) -> bool:
    return (m.ref.type, m.ref.id) in _known(id(load()))


_NOT_SLUG = re.compile(r"[\W_]+")


def stable_id(name: str) -> str:
    """The id of a name no gazetteer lists: the same for the same name in every story."""
    folded = fold(name).lower()
    return _NOT_SLUG.sub("-", folded).strip("-")


_LEADING = re.compile(r"^(?:the|The|THE)\s+")
_TITLE = re.compile(r"^(?:(?:the|The|President|Prime|Minister|Premier|Chancellor|King|Queen|Prince|Princess|Crown|"
                    r"Sheikh|General|Gen\.|Colonel|Col\.|Admiral|Senator|Governor|Mayor|Ambassador|"
                    r"Secretary|Chairman|Chairwoman|Director|Deputy|Vice|Dr|Dr\.|Mr|Mr\.|Mrs|Mrs\.|Ms|Ms\.|"
                    r"Sir|Lord|Lady|Professor|Prof\.|His|Her|Excellency|Majesty|Highness|Royal)\s+)+")
# a company's legal form is not part of the name analysts search for ("Toyo Engineering Corp" -> "Toyo Engineering")
_LEGAL_FORM = re.compile(r"(?:,?\s+(?:Corp|Corporation|Co|Inc|Ltd|Limited|LLC|LLP|PLC|plc|JSC|OJSC|PJSC|SA|AG|"
                         r"GmbH|NV|BV|SpA|Pte)\.?)+$")
_POSSESSIVE = re.compile(r"['’]s?$")


def _clean(s: NerSpan) -> tuple[int, int, str]:
    """The span without a leading article, a person's title or a trailing possessive ("the World Bank's" ->
    "World Bank", "Prince Abdulaziz bin Salman" -> "Abdulaziz bin Salman")."""
    start, end, name = s.start, s.end, s.text
    lead = _LEADING.match(name) if s.label != "PER" else _TITLE.match(name)
    if lead:
        start, name = start + lead.end(), name[lead.end():]
    tail = _POSSESSIVE.search(name)
    if tail and len(name) > 3:
        end, name = end - len(tail.group()), name[:tail.start()]
    stripped = name.rstrip(" ,.;:-–")
    return start, end - (len(name) - len(stripped)), stripped


_ROMAN = re.compile(r"^[IVXLC]+$")
# a project or programme is something organisations do, not an organisation ("Jamuna Railway Bridge Project")
_NOT_AN_ORG = re.compile(r"\b(?:Project|Projects|Programme|Program|Scheme)$")


def _acronym(word: str) -> bool:
    return 2 <= len(word) <= 8 and word.isupper() and word.isalpha() and not _ROMAN.match(word)


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def _widened(text: str, m: Mention, spans: list[NerSpan]) -> Mention:
    """A gazetteer person or organisation inside a longer span of its type takes the span's words as a surface
    form ("Tokayev" in "Kasim Yomart Tokayev", "Sberbank" in "Sberbank Kazakhstan")."""
    if m.ref.type not in ("person", "org"):
        return m
    for s in spans:
        if _TYPE.get(s.label) == m.ref.type and s.start <= m.start and m.end <= s.end:
            start, end, _name = _clean(s)
            if start <= m.start and m.end <= end and end - start > m.end - m.start:
                return Mention(start, end, text[start:end], m.ref)
    return m


# the last word of an organisation's name: a span the recogniser calls MISC ("Economic Relations Division") is
# an organisation when it ends in one
_ORG_HEADS = {"Agency", "Association", "Authority", "Bank", "Board", "Bureau", "Centre", "Center", "Chamber",
              "College", "Commission", "Committee", "Company", "Corporation", "Council", "Department", "Division",
              "Federation", "Foundation", "Fund", "Group", "Institute", "Ministry", "Office", "Organization",
              "Organisation", "Party", "Service", "Union", "University"}


def _org_head(s: NerSpan) -> bool:
    return s.label == "MISC" and len(s.text.split()) > 1 and s.text.split()[-1] in _ORG_HEADS


def _as_org(text: str, s: NerSpan) -> NerSpan:
    """A MISC span ending in an organisation's head word is an organisation; a bare legal form ("JSC") takes
    the capitalised name after it ("JSC Uzbekenergo")."""
    if _org_head(s):
        return NerSpan(s.start, s.end, "ORG", s.text, s.normal, s.lemma)
    if s.label == "ORG" and _LEGAL_FORM.fullmatch(" " + s.text):
        m = re.match(r"\s+([A-Z][\w&'’-]+(?:\s+[A-Z][\w&'’-]+){0,2})", text[s.end:])
        if m:
            return NerSpan(s.end + m.start(1), s.end + m.end(1), "ORG", m.group(1))
    return s


_OF_THE = re.compile(r"\s+of\s+(?:the\s+)?")


def _of_country(text: str, s: NerSpan, mentions: list[Mention]) -> NerSpan:
    """An institution named with its state ("Ministry of Investment of the UAE", "State Bank of Foreign Economic
    Affairs of Turkmenistan"): the recogniser stops before the country; the name goes on to it."""
    if s.label != "ORG" or not (set(s.text.split()) & _ORG_HEADS):
        return s
    of = _OF_THE.match(text, s.end)
    if of is None:
        return s
    country = next((m for m in mentions if of.start() < m.start <= of.end() and m.ref.type == "country"
                    and m.ref.kind == "state"), None)
    if country is None:
        return s
    return NerSpan(s.start, country.end, "ORG", text[s.start:country.end])


def _split(s: NerSpan) -> list[NerSpan]:
    """An organisation span that joins two names ("Russian Academy of Sciences and Saint Petersburg State
    University"): each name on its own, when both have two words or more."""
    if s.label != "ORG":
        return [s]
    m = re.search(r"\s+(?:and|&)\s+(?=[A-Z])", s.text)
    if m is None or len(s.text[:m.start()].split()) < 2 or len(s.text[m.end():].split()) < 2:
        return [s]
    return [NerSpan(s.start, s.start + m.start(), "ORG", s.text[:m.start()]),
            NerSpan(s.start + m.end(), s.end, "ORG", s.text[m.end():])]


def merge(text: str, mentions: list[Mention], spans: list[NerSpan], *, single_names: bool = False,
          gazetteer: frozenset[tuple[str, str]] | set | None = None) -> list[Mention]:
    """``mentions`` (gazetteer and rules, from ``find_mentions(text)``) with the recogniser's ``spans`` merged in,
    sorted by position. ``single_names``: a one-word person that joins nobody is a person (a language where a
    surname alone names one), not dropped. ``gazetteer``: the (type, id) pairs of another language's gazetteer,
    whose entities are kept like the English one's."""
    extra = gazetteer or ()

    def _in_gazetteer(m: Mention) -> bool:  # noqa: F811 (this language's gazetteer too)
        return (m.ref.type, m.ref.id) in extra or _in_english_gazetteer(m)

    spans = sorted((part for s in spans if s.label in LABELS and 0 <= s.start < s.end <= len(text)
                    for part in _split(s)), key=lambda s: (s.start, -s.end))
    known = [m for m in mentions if _in_gazetteer(m) or m.ref.type not in ("person", "org")]
    ruled = [m for m in mentions if not (_in_gazetteer(m) or m.ref.type not in ("person", "org"))]

    forms = load().forms

    def other_words(s: NerSpan) -> bool:
        """Whether the span has a word that is not itself a place ("Paris 2024" has; "Russian-Kyrgyz" has not)."""
        return any(forms.get((t,)) is None or forms[(t,)].type not in ("country", "region", "historic_state")
                   for t in tokens_of(s.text))

    def vetoed(m: Mention) -> bool:
        return m.ref.type in ("country", "region") and any(
            s.label in ("LOC", "MISC", "PER") and s.start <= m.start and m.end <= s.end
            and s.end - s.start > m.end - m.start and other_words(s) for s in spans)

    out = [_widened(text, m, spans) for m in known if not vetoed(m)]
    spans = [_of_country(text, s, out) for s in spans]
    places = [(m.start, m.end) for m in out if m.ref.type in ("country", "region", "historic_state")]
    names = [(m.start, m.end) for m in out if m.ref.type in ("person", "org")]

    def blocked(start: int, end: int) -> bool:
        if any(a < end and start < b for a, b in names):
            return True
        # a place inside an organisation's name stays a mention of its own; one that the span cuts blocks it
        return any(a < end and start < b and not (start <= a and b <= end) for a, b in places)

    # names the rules found: kept where the recogniser found nothing; where it read the words as a name, its
    # reading wins (its type, its boundaries: "Armenian National Assembly", "Supee Teravaninthorn" without the
    # "General" of his title)
    name_spans = [_as_org(text, s) for s in spans if s.label in _TYPE or _org_head(s)]
    for m in ruled:
        other = next((s for s in name_spans if s.start < m.end and m.start < s.end), None)
        if other is not None and (_TYPE[other.label] != m.ref.type or _clean(other)[:2] != (m.start, m.end)):
            continue  # the recogniser's span replaces it below
        if m.ref.type == "org" and _NOT_AN_ORG.search(m.ref.name):
            continue
        if m.ref.type == "org":
            longer = _of_country(text, NerSpan(m.start, m.end, "ORG", m.surface), out)
            if longer.end != m.end:
                m = Mention(m.start, longer.end, longer.text, Ref("org", stable_id(longer.text), longer.text))
        if not blocked(m.start, m.end):
            out.append(m)
            names.append((m.start, m.end))

    full_people: dict[str, Ref] = {}  # last word of a full name -> the person
    orgs: dict[str, Ref] = {}  # acronym -> organisation
    for m in out:
        if m.ref.type == "person" and len(m.ref.name.split()) > 1:
            full_people.setdefault(m.ref.name.split()[-1], m.ref)
        elif m.ref.type == "org":
            orgs.setdefault(_initials(m.ref.name), m.ref)
    head_end = text.find("\n\n")
    body = text[head_end:] if head_end >= 0 else ""
    pending: list[tuple[int, int, str, NerSpan]] = []
    for s in name_spans:
        start, end, name = _clean(s)
        if end <= start or not name[:1].isupper() or blocked(start, end) or _LEGAL_FORM.fullmatch(" " + name):
            continue
        if s.label == "ORG" and _NOT_AN_ORG.search(name):
            continue
        if start < head_end and name not in body:
            continue  # a headline's capitals say little ("Oil Tumbles"): its names count when the body has them
        if len(name.split()) == 1 and not _acronym(name) and re.search(rf"\b{re.escape(name.lower())}\b", text):
            continue  # a common noun written with a capital ("the Bank", "Parliament") somewhere
        pending.append((start, end, name, s))
    # full names first, so that a surname or acronym before its full name still joins it
    for start, end, name, s in sorted(pending, key=lambda p: -len(p[2].split())):
        kind = _TYPE[s.label]
        words = name.split()
        key_words = (s.lemma or name).split()  # the same for every case form of the name
        ref: Ref | None = None
        if kind == "person" and len(words) == 1:
            ref = full_people.get(key_words[-1]) or full_people.get(words[0])
            if ref is None and not single_names:
                continue  # a given name or surname alone, with no full name to join
        elif kind == "org" and len(words) == 1 and _acronym(words[0]):
            ref = orgs.get(words[0])
        if ref is None:
            shown = (s.normal or name).strip()
            if kind == "org":
                shown = _LEGAL_FORM.sub("", shown) or shown
            key = _LEGAL_FORM.sub("", s.lemma) if s.lemma and kind == "org" else s.lemma or shown
            ref = Ref(kind, stable_id(key), shown, kind=RECOGNISED if kind == "org" else None)
            if kind == "person":
                full_people.setdefault(key_words[-1], ref)
                full_people.setdefault(words[-1], ref)
            else:
                orgs.setdefault(_initials(shown), ref)
        out.append(Mention(start, end, text[start:end], ref))
        names.append((start, end))
    _join_acronyms_in_brackets(text, out, _in_gazetteer)
    out.sort(key=lambda m: m.start)
    return out


_BRACKETED = re.compile(r"\s*\(([A-ZА-ЯЁ][A-Za-zА-Яа-яЁё&]{1,7})\)")


def _join_acronyms_in_brackets(text: str, mentions: list[Mention], known) -> None:
    """"Trans-Asia Gas Pipeline Company Limited (TAPLINE)": the acronym, there and later, is the organisation."""
    by_end = {m.end: m for m in mentions if m.ref.type == "org"}
    defined: dict[str, Ref] = {}
    for d in _BRACKETED.finditer(text):
        owner = by_end.get(d.start())
        if owner is not None and d.group(1) not in defined and not _ROMAN.match(d.group(1)):
            defined[d.group(1)] = owner.ref
    if not defined:
        return
    taken = {(m.start, m.end) for m in mentions}
    for k, m in enumerate(mentions):
        ref = defined.get(m.surface)
        if m.ref.type == "org" and ref is not None and ref.id != m.ref.id and not known(m):
            mentions[k] = Mention(m.start, m.end, m.surface, ref)
    occupied = sorted((m.start, m.end) for m in mentions)
    for acronym, ref in defined.items():
        for later in re.finditer(rf"(?<!\w){re.escape(acronym)}(?!\w)", text):
            span_ = (later.start(), later.end())
            if span_ not in taken and not any(a < span_[1] and span_[0] < b for a, b in occupied):
                mentions.append(Mention(later.start(), later.end(), acronym, ref))


_BYLINE_SPLIT = re.compile(r"\s*(?:[,;|/]|\band\b|&|\bи\b)\s*")
_BYLINE_LEAD = re.compile(r"^(?:by|By|BY|Автор:?|Текст:?)\s+")
_NAME_WORD = re.compile(r"^[A-ZА-ЯЁ][a-zа-яё]+(?:[-'’][A-ZА-ЯЁa-zа-яё][a-zа-яё]+)*$")
_NOT_A_BYLINE = {"Staff", "Reporter", "Correspondent", "Agency", "News", "Editor", "Editorial", "Desk", "Team",
                 "Service", "Press", "Bureau", "Reuters", "Bloomberg", "Wire", "Online", "Media", "Times", "Post"}


def bylines(author: str | None) -> list[str]:
    """The people a byline names ("By Nathan Gill and Li Jiayao" -> two names); outlets and desks are not people."""
    out = []
    for part in _BYLINE_SPLIT.split(_BYLINE_LEAD.sub("", (author or "").strip())):
        words = part.split()
        if 2 <= len(words) <= 4 and all(_NAME_WORD.match(w) for w in words) and not _NOT_A_BYLINE & set(words):
            out.append(" ".join(words))
    return out
