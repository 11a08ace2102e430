"""Money amounts written in English news: numbers, scales, currencies (symbol, code or word), hedges, ranges,
and what looks like money but is not (rates, unit prices, years, percentages). The currency words, symbols,
codes and scales are the English lexicon (``data/lexicons/en.yaml``)."""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from ._regex import Gated

# ---------------------------------------------------------------- surface patterns

LEXICON = Path(__file__).resolve().parent.parent / "data" / "lexicons" / "en.yaml"
_LEX = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
SCALES: dict[str, float] = {k: float(v) for k, v in _LEX["scales"].items()}
SYMBOLS: list[tuple[str, str]] = [tuple(x) for x in _LEX["symbols"]]
CODES: list[str] = list(_LEX["codes"])
WORDS: dict[str, str] = dict(_LEX["words"])
# a currency named with its country ("125 million Australian dollars", "18.2 billion Saudi riyals")
COUNTRY_WORDS: dict[str, list[str]] = {k: list(v) for k, v in _LEX["country_words"].items()}
for _code, _names in COUNTRY_WORDS.items():
    for _name in _names:
        for _w in _LEX["country_word_units"]:
            WORDS.setdefault(f"{_name} {_w}", _code)
_SPELLED_NUMBERS: dict[str, float] = dict(_LEX["spelled_numbers"])
_HEDGE = "(?:" + "|".join(r"\s+".join(map(re.escape, h.split())) for h in sorted(_LEX["hedges"], key=len, reverse=True)) + ")"

_WORDS_FOLDED = {**{w.lower(): c for w, c in WORDS.items()}, **{c.lower(): c for c in CODES}}
# Indian grouping first ("4,04,61,35,54,436"), then thousands separators, then plain digits
_NUM = r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# scale words in any of the cases headlines use; short forms glued or after one space ("USD 1.2 bn"), m/k glued
_SCALE = (r"(?:\s?(?:[Tt]rillion|[Bb]illion|[Mm]illion|[Tt]housand|TRILLION|BILLION|MILLION|crore|lakh)\b|"
          r"\s?(?:tn|trn|bn|bln|mn|mln|Bn|BN)\b|(?:m|k)\b)")
_SYM = "|".join(re.escape(s) for s, _ in sorted(SYMBOLS, key=lambda x: -len(x[0])))
_CODE = "|".join(CODES)
_WORD = "|".join(re.escape(w) for w in sorted(WORDS, key=len, reverse=True))

_PRE = rf"(?:{_SYM}|(?:{_CODE})\s?)"
PREFIXED = re.compile(rf"(?P<pre>{_PRE})\s?(?P<a>{_NUM})(?P<s1>{_SCALE})?(?:\s(?P<postword>{_WORD})\b)?")
PREFIXED_RANGE = re.compile(
    rf"(?P<pre>{_PRE})\s?(?P<a>{_NUM})(?P<s1>{_SCALE})?\s?(?P<sep>-|–|to|and)\s?(?P<pre2>{_PRE})?\s?"
    rf"(?P<b>{_NUM})(?P<s2>{_SCALE})?(?:\s(?P<postword>{_WORD})\b)?")
# a digit that does not continue a number (not after a digit, "," or "."); written digit-first, so that ``re``
# skips to the digits of a text instead of trying the look-behind at every position (3x faster)
NUMBER_START = re.compile(r"\d(?<![\d,.]\d)")
PRE_TAIL = re.compile(rf"(?:{_PRE})\s?$")  # a currency prefix right before a number (searched in a small window)
# the last character of every currency prefix: PRE_TAIL can end at a number only if the character before it, past
# at most two spaces (its two optional ``\s``), is one of these; most numbers ("in 2024", "15 per cent") are not
PRE_LAST = frozenset(sym[-1] for sym, _ in SYMBOLS) | frozenset(code[-1] for code in CODES)
SUFFIXED = re.compile(
    rf"(?<![\w$€£¥.,])(?P<a>{_NUM})(?P<s1>{_SCALE})?(?:\s?(?P<sep>-|–|to)\s?(?P<b>{_NUM})(?P<s2>{_SCALE})?)?"
    rf"\s(?P<word>(?i:{_WORD})|{_CODE})\b")
# other written forms: "75 USD million", "30 MUSD", "100-million-US-dollar" (Xinhua), "100-mln-USD"
_SCALE_WORD = r"million|billion|trillion|mln|bln|bn|mn"
CODE_FIRST = re.compile(rf"(?<![\w$€£¥.,])(?P<a>{_NUM})\s(?P<code>{_CODE})\s?(?P<s1>{_SCALE_WORD})\b")
GLUED_CODE = re.compile(rf"(?<![\w$€£¥.,])(?P<a>{_NUM})\s?(?P<s1>M|B|K)(?P<code>USD|EUR|GBP|AUD|CAD|CHF|JPY|CNY)\b")
HYPHENED = re.compile(rf"(?<![\w$€£¥.,])(?P<a>{_NUM})-(?P<s1>{_SCALE_WORD})-(?:(?:US|U\.S\.)-)?"
                      rf"(?P<word>dollar|euro|yuan|yen|ruble|rouble|USD|EUR|CNY|JPY)s?\b")
SPELLED = Gated(re.compile(
    r"\b(?P<n>" + "|".join(sorted(map(re.escape, _SPELLED_NUMBERS), key=len, reverse=True)) +
    r")[\s-]+(?P<s1>million|billion|trillion)\s+(?P<word>" + "|".join(
        re.escape(w) for w in sorted(WORDS, key=len, reverse=True) if not w.endswith("cents")) + "|" + _CODE
    + r")\b", re.I))
VAGUE = Gated(re.compile(
    r"\b(?P<q>hundreds|tens|billions|millions|trillions|dozens)\s+of\s+(?:(?P<q2>billions|millions|trillions)\s+of\s+)?"
    r"(?:US\s|U\.S\.\s)?(?P<word>dollars|euros|yuan|yen|roubles|rubles|rupees|pounds)\b"))
HEDGE_BEFORE = re.compile(rf"\b{_HEDGE}\s*$", re.IGNORECASE)
UNIT_AFTER = re.compile(r"^\s*(?:per\b|a\s+(?:barrel|share|tonne|ton|litre|liter|gallon|kilo|kilogram|pound|head|"
                        r"month|year|day|unit|megawatt|kilowatt|cubic)|an\s+(?:ounce|hour)|/|each\b)", re.I)
TIME_UNIT = re.compile(r"^\s*(?:per|a|an)\s+(?:month|year|day|hour)", re.I)
RATE_AFTER = re.compile(r"^\s*(?:(?:to|per|against)\s+(?:the\s+|one\s+|a\s+)?(?:US\s+)?(?:dollar|euro|yuan|yen|rouble|ruble)\b|"
                        r"=\s*(?:\$|€|£|USD|EUR)\s*1\b)", re.I)

RATE_BEFORE = re.compile(r"\b(?:dollar|euro|yuan|yen|rouble|ruble|pound|USD|EUR)\s+(?:bought|buys|fetched|fetches|was worth|"
                         r"is worth|equall?ed|equals|traded at|trades at|stood at|was at|cost|costs|was|is)\s*$", re.I)
PAIR_BEFORE = re.compile(r"[A-Z]{3}/\s*$|=\s*$")  # "USD/UZS 12,520", "1 USD = 12,650 UZS"
BETWEEN_BEFORE = re.compile(r"\bbetween\s*$", re.I)


@dataclass
class RawMention:
    start: int
    end: int
    text: str
    amount: float
    amount_max: float | None
    currency: str
    approx: bool


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def _scaled(number: str, scale: float) -> float:
    """'4.1' x 1e12 -> 4100000000000.0 exactly (float maths gives 4099999999999.9995)."""
    return float(Decimal(number.replace(",", "")) * Decimal(int(scale)))


def _scale(s: str | None) -> float:
    return SCALES[s.strip().lower()] if s else 1.0


PRICE_BEFORE = re.compile(r"\b(?:gold|silver|copper|platinum|crude|Brent|WTI|oil|bitcoin|ether|prices?|priced|costs?|"
                          r"fares?|tickets?|shares?|stocks?|index|closed|trad(?:ed|ing|es)|ounce|barrel|salar(?:y|ies)|"
                          r"wages?|income|GDP per capita|per capita)\b[^.;$€£¥]{0,12}$", re.I)
# "rose from $3 billion to $5 billion" is a change between two amounts; "range from $3 to $5 billion" is a range
CHANGE_FROM = re.compile(
    r"\b(?:rose|rise[sn]?|rising|fell|fall(?:s|en|ing)?|increas\w*|decreas\w*|grew|grow\w*|jump\w*|climb\w*|"
    r"drop\w*|declin\w*|up|down|swell\w*|shr[iu]nk\w*|surg\w*|soar\w*|plung\w*|slid\w*|slump\w*|rais\w*|cut|"
    r"lower\w*|boost\w*|expand\w*|widen\w*|narrow\w*|doubl\w*|tripl\w*|halv\w*)\b(?:\s+[\w’'-]+){0,4}?\s+"
    r"from\s*$", re.I)
NOT_A_HEDGE = re.compile(r"\b(?:roll(?:s|ed|ing)?|hand(?:s|ed)?|took|take[sn]?|turn(?:s|ed)?)\s+over\s*$", re.I)


def _hedge(text: str, start: int) -> re.Match | None:
    window = text[max(0, start - 25):start]
    if NOT_A_HEDGE.search(window):
        return None  # "rolls over $2.4 billion": a verb, not "more than"
    return HEDGE_BEFORE.search(window)


def _find_raw(text: str) -> list[RawMention]:
    out: list[RawMention] = []
    # the spans kept so far, disjoint and sorted (so by start and by end alike): an overlap test is a bisection
    taken_starts: list[int] = []
    taken_ends: list[int] = []
    symbols = dict(SYMBOLS)

    def overlaps(s, e):
        i = bisect_left(taken_starts, e)  # spans starting before e; the last of them ends latest
        return i > 0 and taken_ends[i - 1] > s

    def currency_of(pre: str, postword: str | None) -> str | None:
        pre = pre.strip()
        cur = symbols.get(pre) or (pre if pre in CODES else None)
        if postword in ("yuan", "renminbi", "RMB") and cur in ("JPY?", "CNY"):
            return "CNY"
        if postword == "yen" and cur == "JPY?":
            return "JPY"
        return cur

    def keep(raw):
        if raw is not None and not overlaps(raw.start, raw.end):  # (a hedge can widen a span backwards)
            i = bisect_left(taken_starts, raw.start)
            taken_starts.insert(i, raw.start)
            taken_ends.insert(i, raw.end)
            out.append(raw)

    # Scanning the whole text with the currency alternation is slow; numbers are few. Find each number, then look
    # for a currency prefix in the few characters before it and match the full patterns there.
    number_starts = [m.start() for m in NUMBER_START.finditer(text)]
    prefixed_at = []
    for p in number_starts:
        j = p - 1
        if j >= 0 and text[j].isspace():  # re's \s is str.isspace()
            j -= 1
            if j >= 0 and text[j].isspace():
                j -= 1
        if j < 0 or text[j] not in PRE_LAST:
            continue
        w0 = max(0, p - 10)
        pm = PRE_TAIL.search(text, w0, p)
        if pm is not None:
            prefixed_at.append(pm.start())
    # ranges first: "$1-2 billion", "between $3 and $5 million", "$3 billion to $5 billion"
    for pos in prefixed_at:
        m = PREFIXED_RANGE.match(text, pos)
        if m is None or overlaps(m.start(), m.end()):
            continue
        cur = currency_of(m.group("pre"), m.group("postword"))
        before = text[max(0, m.start() - 10):m.start()]
        if m.group("pre2") and currency_of(m.group("pre2"), m.group("postword")) != cur:
            continue  # "C$5 million and A$3 billion": two amounts
        if m.group("sep") == "and" and not BETWEEN_BEFORE.search(before):
            continue
        if m.group("sep") == "to" and CHANGE_FROM.search(text[max(0, m.start() - 60):m.start()]):
            continue  # "rose from $3 billion to $5 billion": a change, two amounts
        end = m.end("postword") if m.group("postword") else m.end("s2") if m.group("s2") else m.end("b")
        start = m.start()
        if m.group("sep") == "and":
            start = m.start() - len(before) + BETWEEN_BEFORE.search(before).start()
        keep(_raw(text, start, end, m.group("a"), m.group("s1"), m.group("b"), m.group("s2"), cur, prefixed=True))
    for pos in prefixed_at:
        m = PREFIXED.match(text, pos)
        if m is None or overlaps(m.start(), m.end()):
            continue
        cur = currency_of(m.group("pre"), m.group("postword"))
        end = m.end("postword") if m.group("postword") else (m.end("s1") if m.group("s1") else m.end("a"))
        keep(_raw(text, m.start(), end, m.group("a"), m.group("s1"), None, None, cur, prefixed=True))
    for pos in number_starts:
        m = SUFFIXED.match(text, pos)
        if m is None or overlaps(m.start(), m.end()):
            continue
        if m.group("sep") == "to" and CHANGE_FROM.search(text[max(0, m.start() - 60):m.start()]):
            continue
        word = m.group("word")
        if word in CODES and not (m.group("s1") or m.group("s2")) and ("," not in m.group("a") or _num(m.group("a")) < 10_000):
            continue  # "87.30 EUR" in a rate strip: a code after a bare figure is money only when it is large
        keep(_raw(text, m.start(), m.end(), m.group("a"), m.group("s1"), m.group("b"), m.group("s2"),
                  _WORDS_FOLDED.get(word.lower(), word), prefixed=False))
    for rx in (CODE_FIRST, GLUED_CODE, HYPHENED):
        for pos in number_starts:
            m = rx.match(text, pos)
            if m is None or overlaps(m.start(), m.end()):
                continue
            code = m.groupdict().get("code") or WORDS.get(m.group("word") + "s") or m.group("word").upper()
            keep(_raw(text, m.start(), m.end(), m.group("a"), {"M": "m", "B": "bn", "K": "k"}.get(m.group("s1"), m.group("s1")),
                      None, None, WORDS.get(code, code), prefixed=True))
    for m in SPELLED.finditer(text):
        if overlaps(m.start(), m.end()):
            continue
        n = _SPELLED_NUMBERS[m.group("n").lower()]
        word = _WORDS_FOLDED.get(m.group("word").lower())
        if word is None:
            continue
        amount = n * SCALES[m.group("s1").lower()]
        hedge = _hedge(text, m.start())
        start = max(0, m.start() - 25) + hedge.start() if hedge else m.start()
        keep(RawMention(start, m.end(), text[start:m.end()], amount, None, word, hedge is not None))
    for m in VAGUE.finditer(text):
        if overlaps(m.start(), m.end()):
            continue
        base = {"tens": 10, "dozens": 12, "hundreds": 100, "millions": 1e6, "billions": 1e9, "trillions": 1e12}
        amount = base[m.group("q")] * (base[m.group("q2")] if m.group("q2") else 1)
        if amount < 1e6:
            continue  # "hundreds of dollars": not a flow
        cur = {"dollars": "USD", "euros": "EUR", "yuan": "CNY", "yen": "JPY", "roubles": "RUB", "rubles": "RUB",
               "rupees": "Rs", "pounds": "GBP"}[m.group("word")]
        keep(RawMention(m.start(), m.end(), m.group(), amount, None, cur, True))
    return out


def _raw(text: str, start: int, end: int, a: str, s1: str | None, b: str | None, s2: str | None,
         cur: str | None, *, prefixed: bool) -> RawMention | None:
    if cur is None:
        return None
    scale_a = _scale(s1 or s2)  # "$1-2 billion": the scale applies to both ends
    amount = _scaled(a, scale_a)
    amount_max = _scaled(b, _scale(s2 or s1)) if b else None
    if amount_max is not None and amount_max < amount:
        return None  # "$5 billion to 2" is not a range
    after = text[end:end + 30]
    before = text[max(0, start - 12):start]
    if cur == "USD/100":  # "28 U.S. cents"
        cur, amount = "USD", amount / 100
        amount_max = amount_max / 100 if amount_max is not None else None
    unit = UNIT_AFTER.match(after)
    if (unit and not ((s1 or s2) and TIME_UNIT.match(unit.group()))) or RATE_AFTER.match(after):
        return None  # a price per unit or an exchange rate ("$12 billion a year" is a yearly sum, not a price)
    if PAIR_BEFORE.search(before) or RATE_BEFORE.search(text[max(0, start - 40):start]):
        return None  # "USD/UZS 12,520", "1 USD = 12,650 UZS", "the dollar bought 12,650 soums" are rates
    if not (s1 or s2):
        # without a scale word: "$82.10" (cents) is a price, "$2,150" after "gold" is a price, "2022 yen" is a
        # year; keep round sums such as "$25,000" or "a fine of $5,000"
        if prefixed and "." in a:
            return None
        if prefixed and amount < 1000:
            return None
        if not prefixed and "," not in a and "." not in a and 1900 <= amount <= 2100:
            return None  # "2022 yen": a year
        if PRICE_BEFORE.search(text[max(0, start - 40):start]):
            return None
    hedge = _hedge(text, start)
    approx = hedge is not None
    surface_start = start
    if hedge:
        surface_start = max(0, start - 25) + hedge.start()
    return RawMention(surface_start, end, text[surface_start:end].strip(), amount, amount_max, cur, approx)

