"""Geopolitical entities in a text: gazetteer matches (longest first) plus precise rules for people and
organisations that no gazetteer knows ("Deputy minister Aziz Karimov", "Geocase, a Georgian think tank")."""
from __future__ import annotations

import re
from bisect import bisect_left, insort
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, compress, count

from ._regex import Gated
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
_PERSON_APPOSITIVE_TAIL = (
    r",\s+(?:(?:a|an|the)\s+)?(?:(?:senior|chief|former|deputy|managing|executive|lead|research)\s+)*"
    r"(?:director|analyst|economist|professor|researcher|fellow|spokesman|spokeswoman|spokesperson|head|"
    r"chairman|chairwoman|president|minister|adviser|advisor|expert|author|founder|CEO|chief executive|"
    r"journalist|editor|lecturer|scholar|ambassador|governor)\b")
PERSON_APPOSITIVE_RE = re.compile(rf"\b{_NAME}{_PERSON_APPOSITIVE_TAIL}")
_SAID = r"(?:said|says|told|according to)\s+"
PERSON_SAID_RE = re.compile(rf"\b{_SAID}{_NAME}\b")

_ORG_WORD = r"[A-Z][\w&'’\-]{0,40}+"  # bounded: a run of hyphenated capitals is scanned once, not once per word
_ORG_SUFFIX = (r"(?:Bank|Fund|Endowment|Society|Alliance|Partnership|Secretariat|Chamber|Institute|Institution|University|College|Organization|Organisation|Ministry|Agency|"
               r"Corporation|Company|Council|Commission|Exchange|Party|Association|Forum|Authority|Foundation|"
               r"Academy|Committee|Bureau|Centre|Center|Federation|Initiative|Corridor|Holdings|Group|Service|"
               r"Programme|Program|Court|Assembly)")
ORG_SUFFIX_RE = re.compile(
    rf"\b((?:{_ORG_WORD}\s+(?:(?:of|for)\s+(?:the\s+)?|(?:and|&)\s+)?){{1,5}}{_ORG_SUFFIX}"
    rf"(?:\s+(?:of|for)\s+(?:the\s+)?{_ORG_WORD}(?:\s+{_ORG_WORD}){{0,2}}(?:\s+(?:and|&)\s+{_ORG_WORD})?)?)")
ORG_OF_RE = re.compile(
    rf"\b((?:Ministry|Bank|University|College|Institute|Academy|Council|Office)\s+(?:of|for)\s+(?:the\s+)?"
    rf"{_ORG_WORD}(?:\s+{_ORG_WORD})?(?:\s+(?:and|&)\s+{_ORG_WORD})?)")
_ORG_APPOSITIVE_TAIL = (
    r",\s+(?:a|an|the)\s+(?:[\w\-]+\s+){0,3}?"
    r"(?:think tank|research lab|research group|research centre|research center|research institute|"
    r"consultancy|company|firm|bank|lender|newspaper|news agency|broadcaster|fund|NGO|non-profit|nonprofit|"
    r"watchdog|university|institute|start-up|startup|conglomerate|state company|state-owned company)\b")
ORG_APPOSITIVE_RE = re.compile(rf"\b({_ORG_WORD}(?:\s+{_ORG_WORD}){{0,3}}){_ORG_APPOSITIVE_TAIL}")
_AFTER_NOUN = r"(?:company|firm|lender|group|giant|conglomerate|operator|developer|contractor|bank)\s+"
ORG_AFTER_NOUN_RE = re.compile(rf"\b{_AFTER_NOUN}([A-Z][A-Za-z0-9&\-]+(?:\s+[A-Z][A-Za-z0-9&\-]+){{0,2}})")
# Each rule above is a name next to words it needs. A text without those words cannot match, and is not
# scanned name by name: each gate below is a contiguous part of its pattern (its tail, or its head followed by
# the capital letter that starts the name), so a match of the pattern always contains a match of its gate.
# Searching for the gate costs a fraction of the name scan (", " or the words come first).
RULE_GATES = {
    PERSON_APPOSITIVE_RE: re.compile(_PERSON_APPOSITIVE_TAIL),
    ORG_APPOSITIVE_RE: re.compile(_ORG_APPOSITIVE_TAIL),
    PERSON_SAID_RE: re.compile(rf"{_SAID}[A-Z]"),
    ORG_AFTER_NOUN_RE: re.compile(rf"{_AFTER_NOUN}[A-Z]"),
}
# each gate tried only where one of its words starts ("said" and "bank" occur in most stories, the gate far less)
_GATES = {rx: Gated(gate) for rx, gate in RULE_GATES.items()}
ACRONYM_RE = re.compile(r"\(([A-Z][A-Za-z&]{1,7})\)")
_FUNCTION_WORDS = {"The", "A", "An", "In", "On", "At", "For", "Of", "And", "But", "Or", "If", "As", "By", "To",
                   "This", "That", "These", "Those", "It", "Its", "He", "She", "They", "We", "Last", "Next",
                   "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                   "February", "March", "April", "May", "June", "July", "August", "September", "October",
                   "November", "December", "Photo", "Read", "More", "Share", "Email", "Sign", "Subscribe"}


_SENTENCE_STARTERS = {"Yesterday", "Today", "Tomorrow", "Meanwhile", "However", "Also", "Both", "When", "While",
                      "After", "Before", "Since", "Under", "Unlike", "Like", "Only", "Even", "Then", "Now", "Still",
                      "Although", "Though", "Because", "Why", "How", "What", "Where", "Who", "Which", "Despite",
                      "Including", "Against", "Between", "Among", "With", "Without", "From", "Into", "Via", "Did",
                      "Does", "Do", "Has", "Have", "Had", "Will", "Would", "Can", "Could", "Should", "Is", "Was",
                      "Are", "Were", "Neighbouring", "Neighboring", "Nearby", "Landlocked", "Oil-rich", "Resource-rich",
                      "Not", "Across", "Throughout", "Outside", "Inside", "Beyond", "Toward", "Towards", "So",
                      "Yet", "Thus", "Hence", "Indeed", "Instead", "Moreover", "Furthermore", "Per", "Whether"}
_TITLE_WORDS = {"President", "Premier", "Minister", "Mr", "Mrs", "Ms", "Dr", "King", "Queen", "Prince", "Emir",
                "Sheikh", "General", "Senator", "Governor", "Ambassador", "Secretary", "Chancellor", "Mayor"}


_TOKEN_SPLIT = re.compile(f"({TOKEN_RE.pattern})")  # splitting keeps the tokens and what lies between them


class _Tokens:
    """The tokens of a text as ``(start, end, normalised word)``. Splitting the text on its tokens gives the text
    between them too, so every offset is a running sum of lengths: all found at C speed (``split``,
    ``accumulate``), where a token-by-token loop would cost more than the split itself."""

    __slots__ = ("raw", "words", "offsets")

    def __init__(self, text: str):
        parts = _TOKEN_SPLIT.split(text)  # [between, token, between, token, ..., between]
        self.raw = parts[1::2]
        self.offsets = list(accumulate(map(len, parts)))  # token k is text[offsets[2k]:offsets[2k + 1]]
        if "'" in text or "’" in text:  # only tokens with an apostrophe need normalising ("China's")
            self.words = [normalize_token(w) if ("'" in w or "’" in w) else w for w in self.raw]
        else:
            self.words = self.raw

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, k: int) -> tuple[int, int, str]:
        return self.offsets[2 * k], self.offsets[2 * k + 1], self.words[k]


def _gazetteer_mentions(text: str) -> list[Mention]:
    from .gazetteer import _END

    g = load()
    trie = g.trie
    toks = _Tokens(text)
    words = toks.words
    first = g.first_tokens
    out: list[Mention] = []
    i, n = 0, len(words)
    for c in list(compress(count(), map(first.__contains__, words))):  # the tokens that start a form
        if c < i:
            continue  # inside the previous mention
        i = c
        node = trie[words[i]]
        hit, j = None, i
        while node is not None:  # walk the trie; remember the longest complete form
            if _END in node:
                hit = (j - i + 1, node[_END])
            j += 1
            node = node.get(words[j]) if j < n else None
        if hit is None:
            continue
        length, ref = hit
        start, end = toks.offsets[2 * i], toks.offsets[2 * (i + length) - 1]
        surface = text[start:end]
        if _skip(text, toks, i, length, start, end, surface, ref):
            continue  # a shorter or later form may still start inside ("the West Bank" -> "West Bank")
        out.append(Mention(start, end, surface, ref))
        i += length
    if g.ambiguous_us_state and any(_bare(m.surface) in g.ambiguous_us_state for m in out):
        _resolve_us_states(text, out)
    return out


def _capitalised_name_word(text: str, tok: tuple[int, int, str]) -> bool:
    """A capitalised word that may be part of a person's or company's name (not a place, title or modifier)."""
    g = load()
    word = tok[2]
    if not word[:1].isupper() or not word.isalpha() or word.isupper():
        return False
    if word in _FUNCTION_WORDS or word in _SENTENCE_STARTERS or word in _TITLE_WORDS or word in g.geo_modifiers:
        return False
    return (word,) not in g.forms


def _skip(text: str, toks: _Tokens, i: int, length: int, start: int, end: int, surface: str, ref: Ref) -> bool:
    """Whether the gazetteer form ``surface`` (tokens i .. i+length-1, at [start, end)) is not a mention of
    ``ref``. The neighbouring words are looked at only for the few forms whose rules need them."""
    if ref.id == "US" and surface in ("US", "U.S.") and text[end:end + 3].lstrip().startswith("$"):
        return True  # "US $127 billion" is a currency, not a mention of the country
    kind = ref.type
    if kind == "country":
        caps = surface.isupper() and len(surface) <= 3
        name_place = _bare(surface) in load().person_name_places
        if not (caps or name_place):
            return False
    elif not (kind == "region" and surface.lower() == "the west"):
        return False
    g = load()
    prev = toks[i - 1] if i > 0 and text[toks[i - 1][1]:start] == " " else None
    nxt = toks[i + length] if i + length < len(toks) and text[end:toks[i + length][0]] == " " else None
    if kind == "region":
        return nxt is not None and nxt[2][:1].isupper()  # "the West Bank", "the West End"
    if caps:
        # "LET US KNOW": an all-caps line, where "US" may be the pronoun
        near = [t for t in (prev, nxt) if t is not None]
        if any(t[2].isupper() and t[2].isalpha() and len(t[2]) >= 2 and (t[2],) not in g.forms for t in near):
            return True
    if name_place:
        # "Michael Jordan", "Chad Smith", "George Washington": part of a person's name
        if prev is not None and _capitalised_name_word(text, prev):
            return True
        if nxt is not None and _capitalised_name_word(text, nxt):
            return True
    return False


def _resolve_us_states(text: str, mentions: list[Mention]) -> None:
    """"Georgia": the country, unless US context is near and nothing in the text points at the country."""
    g = load()
    if _context_re("country", tuple(g.country_context)).search(text):
        return
    state = g.forms.get(("United", "States"))
    us = Ref("country", "US", g.country_names["US"], state.wikidata if state else None, "US", "place")
    for k, m in enumerate(mentions):
        if _bare(m.surface) not in g.ambiguous_us_state or m.ref.type != "country":
            continue
        window = text[max(0, m.start - 150):m.end + 150]
        near_us_place = any(o is not m and o.ref.id == "US" and o.ref.kind == "place" and abs(o.start - m.start) < 150
                            for o in mentions)
        if near_us_place or _context_re("us", tuple(g.us_state_context)).search(window):
            mentions[k] = Mention(m.start, m.end, m.surface, us)


def _bare(surface: str) -> str:
    """The surface form without a possessive: "Georgia's" -> "Georgia"."""
    return surface[:-2] if surface.endswith(("'s", "’s")) else surface


@lru_cache(maxsize=8)
def _context_re(name: str, words: tuple[str, ...]) -> re.Pattern:
    """Whole-word search for any of ``words`` ("lari" must not match "particularly")."""
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?!\w)")


class _Spans:
    """Character spans with a fast overlap query (bisect on starts; spans are short)."""

    def __init__(self, spans=()):
        self.items = sorted(spans)
        self.longest = max((e - s for s, e in self.items), default=0)

    def overlapping(self, start: int, end: int):
        j = bisect_left(self.items, (end,)) - 1  # every span before j+1 starts before ``end``
        items, floor = self.items, start - self.longest
        while j >= 0 and items[j][0] >= floor:
            if items[j][1] > start:
                yield items[j]
            j -= 1

    def overlaps(self, start: int, end: int) -> bool:
        return next(self.overlapping(start, end), None) is not None

    def add(self, start: int, end: int) -> None:
        insort(self.items, (start, end))
        self.longest = max(self.longest, end - start)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(name: str) -> str:
    return _NOT_SLUG.sub("-", name.lower()).strip("-")


_NOT_IN_PERSON_NAMES = {
    "Ministry", "Minister", "Bank", "Foreign", "Finance", "President", "Deputy", "Committee", "Office", "Department",
    "Party", "Council", "University", "Institute", "Fund", "Agency", "Corporation", "Company", "Group", "Exchange",
    "Commission", "Organization", "Organisation", "State", "National", "Central", "Development", "Cooperation",
    "Street", "Avenue", "Square", "Road", "Airport", "Province", "Region", "District", "City", "River", "Sea",
    "Lake", "Mountains", "Republic", "Kingdom", "Union", "Federation", "Authority", "News", "Times", "Post", "Daily",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March",
    "April", "June", "July", "August", "September", "October", "November", "December", "Government", "Parliament",
    "Assembly", "Court", "Police", "Army", "Forces", "Security", "Energy", "Economy", "Trade", "Affairs", "Defence",
    "Defense", "Interior", "Justice", "Industry", "Investment", "Reuters", "Press", "Television", "Radio",
    "Communist", "Democratic", "Islamic", "Federal", "Summit", "Forum", "Initiative", "Project", "Programme",
    "Program", "Plan", "Act", "Law", "Treaty", "Agreement", "Prime", "Chairman", "Spokesman", "Spokeswoman",
    "Mr", "Mrs", "Ms", "Dr", "Sir", "Lord", "Saint", "St", "Corridor", "Pipeline", "Power", "Gas", "Oil",
    "Holdings", "Ltd", "Inc", "Co", "Stock", "Market", "Index", "Capital", "Partners", "Foundation", "Center",
    "Centre", "School", "College", "Academy", "Hospital", "Church", "Mosque", "Palace", "Hall", "House", "Tower",
    "Station", "Port", "Zone", "Park", "Bridge", "Dam", "Plant", "Field", "Basin", "Valley", "Desert", "Steppe"}


def _valid_name(name: str) -> bool:
    toks = name.split()
    if len(toks) < 2 or toks[0] in _FUNCTION_WORDS or toks[-1] in _FUNCTION_WORDS:
        return False
    if toks[0] in _SENTENCE_STARTERS or any(t.strip("'’") in _NOT_IN_PERSON_NAMES for t in toks):
        return False
    g = load()
    return not any((normalize_token(t),) in g.forms for t in toks)  # "Kyrgyz President" is not a name


def _is_function_word(word: str) -> bool:
    return word in _FUNCTION_WORDS or word.capitalize() in _FUNCTION_WORDS or word in _SENTENCE_STARTERS


def _rule_mentions(text: str, found: list[Mention]) -> list[Mention]:
    g = load()
    out: list[Mention] = []
    spans = _Spans((m.start, m.end) for m in found)
    # an organisation's name may contain places and demonyms ("Tashkent Institute of Irrigation"): those mentions
    # stay (the country is involved), but they do not block the organisation
    hard = _Spans((m.start, m.end) for m in found if m.ref.type not in ("country", "region"))
    soft = _Spans((m.start, m.end) for m in found if m.ref.type in ("country", "region"))

    def add(start: int, end: int, ref: Ref) -> None:
        if spans.overlaps(start, end):
            return
        out.append(Mention(start, end, text[start:end], ref))
        spans.add(start, end)
        hard.add(start, end)

    def add_org(start: int, end: int, ref: Ref) -> None:
        if hard.overlaps(start, end):
            return
        if any(not (start <= s and e <= end) for s, e in soft.overlapping(start, end)):
            return  # cuts a place name in two
        out.append(Mention(start, end, text[start:end], ref))
        spans.add(start, end)
        hard.add(start, end)

    gates = {rx: gate.occurs(text) for rx, gate in _GATES.items()}
    for rx in (PERSON_TITLE_RE, PERSON_APPOSITIVE_RE, PERSON_SAID_RE):
        for m in (rx.finditer(text) if gates.get(rx, True) else ()):
            name = m.group(1)
            if _valid_name(name):
                add(m.start(1), m.end(1), Ref("person", _slug(name), name))
    for rx in (ORG_APPOSITIVE_RE, ORG_AFTER_NOUN_RE):
        for m in (rx.finditer(text) if gates[rx] else ()):
            name = m.group(1)
            key = tuple(tokens_of(name))
            if _is_function_word(name.split()[0]) or key in g.forms or len(name) < 3:
                continue
            add(m.start(1), m.end(1), Ref("org", _slug(name), name))
    for rx in (ORG_SUFFIX_RE, ORG_OF_RE):
        for m in rx.finditer(text):
            name, start = m.group(1), m.start(1)
            while name:
                first = name.split()[0]
                lead = g.forms.get((normalize_token(first),))
                possessive = first.endswith(("'s", "’s")) and lead is not None
                state_word = lead is not None and lead.type == "country" and lead.kind == "state"
                if not (_is_function_word(first) or possessive or state_word):
                    break
                # drop a leading "The", a possessive ("Uzbekistan's Ministry of Energy") or a country word ("Kyrgyz
                # Ministry of Finance"); a city stays part of the name ("Tashkent Institute of Irrigation")
                rest = name[len(first):].lstrip()
                if len(rest.split()) < 2:
                    name = ""
                    break
                start += len(name) - len(rest)
                name = rest
            if not name or tuple(tokens_of(name)) in g.forms or name.split()[-1] in ("of", "for", "and", "the"):
                continue
            add_org(start, start + len(name), Ref("org", _slug(name), name))
    return out


def find_mentions(text: str) -> list[Mention]:
    """Every entity mention in ``text``, sorted by position."""
    mentions = _gazetteer_mentions(text)
    mentions += _rule_mentions(text, mentions)
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
    taken = _Spans((m.start, m.end) for m in mentions)
    for pm in people.values():
        surname = pm.ref.name.split()[-1]
        if len(surname) < 4 or (surname,) in load().forms:
            continue
        # only occurrences after the person's (last full) mention count: the scan starts there
        for later in re.compile(rf"\b{re.escape(surname)}\b").finditer(text, pm.start + 1):
            if not taken.overlaps(later.start(), later.end()):
                mentions.append(Mention(later.start(), later.end(), surname, pm.ref))
    mentions.sort(key=lambda m: m.start)
    return mentions
