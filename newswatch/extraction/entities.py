"""Geopolitical entities in a text: gazetteer matches (longest first) plus precise rules for people and
organisations that no gazetteer knows ("Deputy minister Aziz Karimov", "Geocase, a Georgian think tank")."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .gazetteer import TOKEN_RE, Ref, load, normalize_token, tokens_of


@dataclass
class Mention:
    start: int
    end: int
    surface: str
    ref: Ref


_TITLES = (r"(?:(?:Deputy|deputy|Vice|vice|Prime|Foreign|Finance|Economy|Economic|Energy|Trade|Defen[cs]e|"
           r"Interior|Chief|chief|Former|former|Acting|acting|Senior|senior)\s+)*"
           r"(?:President|Premier|Minister|minister|Chancellor|Governor|governor|Ambassador|ambassador|Senator|"
           r"Secretary|Chairman|chairman|Chairwoman|Director|director|Spokesman|spokesman|Spokeswoman|"
           r"spokeswoman|Spokesperson|spokesperson|analyst|Analyst|economist|Economist|Professor|professor|"
           r"researcher|CEO|Dr\.|Mr\.|Mrs\.|Ms\.|Mr|Mrs|Ms|Dr|King|Emir|Sheikh|Mayor|mayor|Commissioner|"
           r"Speaker|Ombudsman|General)")
_NAME = r"((?:[A-Z][a-zà-ÿāēīōūğşı'’\-]+)(?:\s+[A-Z][a-zà-ÿāēīōūğşı'’\-]+){1,2})"
PERSON_TITLE_RE = re.compile(rf"\b{_TITLES}\s+{_NAME}")
PERSON_APPOSITIVE_RE = re.compile(
    rf"\b{_NAME},\s+(?:(?:a|an|the)\s+)?(?:(?:senior|chief|former|deputy|managing|executive|lead|research)\s+)*"
    r"(?:director|analyst|economist|professor|researcher|fellow|spokesman|spokeswoman|spokesperson|head|"
    r"chairman|chairwoman|president|minister|adviser|advisor|expert|author|founder|CEO|chief executive|"
    r"journalist|editor|lecturer|scholar|ambassador|governor)\b")
PERSON_SAID_RE = re.compile(rf"\b(?:said|says|told|according to)\s+{_NAME}\b")

_ORG_WORD = r"[A-Z][\w&'’\-]*"
_ORG_SUFFIX = (r"(?:Bank|Fund|Institute|Institution|University|College|Organization|Organisation|Ministry|Agency|"
               r"Corporation|Company|Council|Commission|Exchange|Party|Association|Forum|Authority|Foundation|"
               r"Academy|Committee|Bureau|Centre|Center|Federation|Initiative|Corridor|Holdings|Group|Service|"
               r"Programme|Program|Court|Assembly)")
ORG_SUFFIX_RE = re.compile(
    rf"\b((?:{_ORG_WORD}\s+(?:(?:of|for|and|&|the)\s+)?){{1,5}}{_ORG_SUFFIX}"
    rf"(?:\s+(?:of|for)\s+(?:the\s+)?{_ORG_WORD}(?:\s+(?:and|&)\s+{_ORG_WORD})?)?)")
ORG_OF_RE = re.compile(
    rf"\b((?:Ministry|Bank|University|College|Institute|Academy|Council|Office)\s+(?:of|for)\s+(?:the\s+)?"
    rf"{_ORG_WORD}(?:\s+{_ORG_WORD})?(?:\s+(?:and|&)\s+{_ORG_WORD})?)")
ORG_APPOSITIVE_RE = re.compile(
    rf"\b({_ORG_WORD}(?:\s+{_ORG_WORD}){{0,3}}),\s+(?:a|an|the)\s+(?:[\w\-]+\s+){{0,3}}?"
    r"(?:think tank|research lab|research group|research centre|research center|research institute|"
    r"consultancy|company|firm|bank|lender|newspaper|news agency|broadcaster|fund|NGO|non-profit|nonprofit|"
    r"watchdog|university|institute|start-up|startup|conglomerate|state company|state-owned company)\b")
ORG_AFTER_NOUN_RE = re.compile(
    r"\b(?:company|firm|lender|group|giant|conglomerate|operator|developer|contractor|bank)\s+"
    r"([A-Z][A-Za-z0-9&\-]+(?:\s+[A-Z][A-Za-z0-9&\-]+){0,2})")
ACRONYM_RE = re.compile(r"\(([A-Z][A-Za-z&]{1,7})\)")
_FUNCTION_WORDS = {"The", "A", "An", "In", "On", "At", "For", "Of", "And", "But", "Or", "If", "As", "By", "To",
                   "This", "That", "These", "Those", "It", "Its", "He", "She", "They", "We", "Last", "Next",
                   "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                   "February", "March", "April", "May", "June", "July", "August", "September", "October",
                   "November", "December", "Photo", "Read", "More", "Share", "Email", "Sign", "Subscribe"}


def _gazetteer_mentions(text: str) -> list[Mention]:
    g = load()
    toks = [(m.start(), m.end(), normalize_token(m.group())) for m in TOKEN_RE.finditer(text)]
    out: list[Mention] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i][2]
        if tok not in g.first_tokens:
            i += 1
            continue
        hit = None
        for length in range(min(g.max_len, n - i), 0, -1):
            key = tuple(t[2] for t in toks[i:i + length])
            ref = g.forms.get(key)
            if ref is not None:
                hit = (length, ref)
                break
        if hit is None:
            i += 1
            continue
        length, ref = hit
        start, end = toks[i][0], toks[i + length - 1][1]
        surface = text[start:end]
        if _skip(text, start, end, surface, ref):
            i += length
            continue
        if ref.type == "country" and surface in g.ambiguous_us_state:
            ref = _resolve_us_state(text, start, end, ref)
        out.append(Mention(start, end, surface, ref))
        i += length
    return out


def _skip(text: str, start: int, end: int, surface: str, ref: Ref) -> bool:
    after = text[end:end + 3]
    if ref.id == "US" and surface in ("US", "U.S.") and after.lstrip().startswith("$"):
        return True  # "US $127 billion" is a currency, not a mention of the country
    return False


def _resolve_us_state(text: str, start: int, end: int, ref: Ref) -> Ref:
    g = load()
    window = text[max(0, start - 120):end + 120]
    if any(w in window for w in g.us_state_context):
        return Ref("country", "US", g.country_names["US"], None, "US", "place")
    return ref


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _valid_name(name: str) -> bool:
    toks = name.split()
    if len(toks) < 2 or toks[0] in _FUNCTION_WORDS or toks[-1] in _FUNCTION_WORDS:
        return False
    g = load()
    return not any((normalize_token(t),) in g.forms for t in toks)  # "Kyrgyz President" is not a name


def _rule_mentions(text: str, taken: list[tuple[int, int]]) -> list[Mention]:
    g = load()
    out: list[Mention] = []
    spans = list(taken)

    def add(start: int, end: int, ref: Ref) -> None:
        if not _overlaps(spans, start, end):
            out.append(Mention(start, end, text[start:end], ref))
            spans.append((start, end))

    for rx in (PERSON_TITLE_RE, PERSON_APPOSITIVE_RE, PERSON_SAID_RE):
        for m in rx.finditer(text):
            name = m.group(1)
            if _valid_name(name):
                add(m.start(1), m.end(1), Ref("person", _slug(name), name))
    for rx in (ORG_APPOSITIVE_RE, ORG_AFTER_NOUN_RE):
        for m in rx.finditer(text):
            name = m.group(1)
            key = tuple(tokens_of(name))
            if name.split()[0] in _FUNCTION_WORDS or key in g.forms or len(name) < 3:
                continue
            add(m.start(1), m.end(1), Ref("org", _slug(name), name))
    for rx in (ORG_OF_RE, ORG_SUFFIX_RE):
        for m in rx.finditer(text):
            name, start = m.group(1), m.start(1)
            while name.split()[0] in _FUNCTION_WORDS or (normalize_token(name.split()[0]),) in g.forms:
                # drop a leading "The" or a leading country/demonym ("Uzbekistan's Ministry of Energy")
                first = name.split()[0]
                rest = name[len(first):].lstrip()
                if len(rest.split()) < 2:
                    name = ""
                    break
                start += len(name) - len(rest)
                name = rest
            if not name or tuple(tokens_of(name)) in g.forms:
                continue
            add(start, start + len(name), Ref("org", _slug(name), name))
    return out


def find_mentions(text: str) -> list[Mention]:
    """Every entity mention in ``text``, sorted by position."""
    mentions = _gazetteer_mentions(text)
    mentions += _rule_mentions(text, [(m.start, m.end) for m in mentions])
    # acronyms defined in the text: "Central Election Commission (CEC)" -> later "CEC" mentions
    by_end = {m.end: m for m in mentions if m.ref.type == "org"}
    extra: list[Mention] = []
    for a in ACRONYM_RE.finditer(text):
        owner = by_end.get(a.start() - 1) or by_end.get(a.start())
        if owner and (a.group(1),) not in load().forms:
            for later in re.finditer(rf"\b{re.escape(a.group(1))}\b", text):
                if later.start() != a.start() + 1:
                    extra.append(Mention(later.start(), later.end(), later.group(), owner.ref))
    mentions += extra
    # later surname-only mentions of people found in full ("Custer pointed out")
    people = {m.ref.id: m for m in mentions if m.ref.type == "person"}
    taken = [(m.start, m.end) for m in mentions]
    for pm in people.values():
        surname = pm.ref.name.split()[-1]
        if len(surname) < 4 or (surname,) in load().forms:
            continue
        for later in re.finditer(rf"\b{re.escape(surname)}\b", text):
            if later.start() > pm.start and not _overlaps(taken, later.start(), later.end()):
                mentions.append(Mention(later.start(), later.end(), surname, pm.ref))
    mentions.sort(key=lambda m: m.start)
    return mentions
