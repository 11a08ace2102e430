"""Money amounts in a story: parsed, normalised to ISO 4217 and USD, classified, with lender and recipient.

Only amounts written with a currency (symbol, code or word) are money; counts, percentages, volumes,
exchange rates ("149 per dollar") and unit prices ("$82.10", "$74.20 a barrel") are not finance mentions.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable
from datetime import date
from decimal import Decimal
from functools import cache

from ._regex import Gated, fast_start, fold
from .entities import Mention
from .usd import to_usd

# ---------------------------------------------------------------- surface patterns

SCALES = {"trillion": 1e12, "tn": 1e12, "trn": 1e12, "billion": 1e9, "bn": 1e9, "bln": 1e9, "million": 1e6,
          "mn": 1e6, "mln": 1e6, "m": 1e6, "thousand": 1e3, "k": 1e3, "crore": 1e7, "lakh": 1e5}
SYMBOLS = [("US$", "USD"), ("U.S.$", "USD"), ("US $", "USD"), ("U.S. $", "USD"), ("A$", "AUD"), ("AU$", "AUD"),
           ("C$", "CAD"), ("CA$", "CAD"), ("HK$", "HKD"), ("NT$", "TWD"), ("NZ$", "NZD"), ("S$", "SGD"), ("R$", "BRL"),
           ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY?"), ("₹", "INR"), ("₽", "RUB"), ("₸", "KZT"),
           ("₩", "KRW"), ("₺", "TRY"), ("Rs.", "Rs"), ("Rs", "Rs"), ("RMB", "CNY"), ("$US", "USD"),
           ("Tk", "BDT"), ("Tenge", "KZT"), ("SDR", "XDR"), ("Mex$", "MXN"), ("MX$", "MXN")]
CODES = ["USD", "EUR", "GBP", "JPY", "CNY", "CHF", "RUB", "KZT", "UZS", "KGS", "TJS", "TMT", "PKR", "INR", "TRY",
         "AUD", "CAD", "HKD", "KRW", "AFN", "AZN", "GEL", "MNT", "IRR", "SAR", "AED", "QAR", "KWD", "BDT", "LKR",
         "EGP", "IDR", "MYR", "THB", "NGN", "ZAR", "BRL", "MXN", "SGD", "NZD", "UAH", "BYN", "AMD", "XDR", "ZMW",
         "CZK", "PLN", "SEK", "NOK", "DKK", "HUF", "ILS", "VND", "PHP"]
WORDS = {"dollars": "USD", "dollar": "USD", "US dollars": "USD", "U.S. dollars": "USD", "euros": "EUR",
         "euro": "EUR", "yuan": "CNY", "renminbi": "CNY", "RMB": "CNY", "yen": "JPY", "roubles": "RUB",
         "rubles": "RUB", "rouble": "RUB", "ruble": "RUB", "tenge": "KZT", "soms": "KGS", "som": "KGS",
         "somoni": "TJS", "manats": "TMT", "manat": "TMT", "sums": "UZS", "sum": "UZS", "soums": "UZS",
         "soum": "UZS", "rupees": "Rs", "rupee": "Rs", "pounds": "GBP", "pounds sterling": "GBP", "won": "KRW",
         "lira": "TRY", "liras": "TRY", "lari": "GEL", "afghanis": "AFN", "dirhams": "AED", "riyals": "SAR",
         "Swiss francs": "CHF", "francs": "CHF", "special drawing rights": "XDR", "taka": "BDT",
         "rupiah": "IDR", "ringgit": "MYR", "baht": "THB", "naira": "NGN", "kwacha": "ZMW", "hryvnias": "UAH",
         "hryvnia": "UAH", "drams": "AMD", "cents": "USD/100", "US cents": "USD/100", "U.S. cents": "USD/100"}
# a currency named with its country ("125 million Australian dollars", "18.2 billion Saudi riyals")
COUNTRY_WORDS = {
    "USD": ["US", "U.S.", "American", "United States"], "AUD": ["Australian"], "CAD": ["Canadian"],
    "HKD": ["Hong Kong"], "NZD": ["New Zealand"], "SGD": ["Singapore"], "TWD": ["Taiwan", "Taiwanese"],
    "SAR": ["Saudi"], "QAR": ["Qatari"], "AED": ["UAE", "Emirati"], "INR": ["Indian"], "PKR": ["Pakistani"],
    "LKR": ["Sri Lankan"], "CNY": ["Chinese"], "JPY": ["Japanese"], "RUB": ["Russian"], "KZT": ["Kazakh", "Kazakhstani"],
    "UZS": ["Uzbek"], "KGS": ["Kyrgyz"], "TJS": ["Tajik"], "TMT": ["Turkmen"], "TRY": ["Turkish"],
    "GBP": ["British"], "EGP": ["Egyptian"], "BDT": ["Bangladeshi"], "CHF": ["Swiss"], "KRW": ["South Korean", "Korean"],
    "BRL": ["Brazilian"], "MXN": ["Mexican"], "ZAR": ["South African"], "NGN": ["Nigerian"], "KWD": ["Kuwaiti"],
    "UAH": ["Ukrainian"], "AMD": ["Armenian"], "AZN": ["Azerbaijani"], "GEL": ["Georgian"]}
_UNIT_OF = {"dollars": "dollar", "dollar": "dollar", "riyals": "riyal", "riyal": "riyal", "rupees": "rupee",
            "rupee": "rupee", "dirhams": "dirham", "dirham": "dirham", "yuan": "yuan", "yen": "yen", "roubles": "ruble",
            "rubles": "ruble", "tenge": "tenge", "soums": "sum", "sums": "sum", "soms": "som", "somoni": "somoni",
            "manats": "manat", "lira": "lira", "pounds": "pound", "francs": "franc", "won": "won", "rand": "rand",
            "taka": "taka", "naira": "naira", "hryvnias": "hryvnia", "drams": "dram", "lari": "lari", "dinars": "dinar"}
for _code, _names in COUNTRY_WORDS.items():
    for _name in _names:
        for _w in ("dollars", "dollar", "riyals", "rupees", "dirhams", "yuan", "yen", "roubles", "rubles", "tenge",
                   "soums", "soms", "somoni", "manats", "lira", "pounds", "francs", "won", "rand", "taka", "naira",
                   "hryvnias", "drams", "lari", "dinars"):
            WORDS.setdefault(f"{_name} {_w}", _code)

# Indian grouping first ("4,04,61,35,54,436"), then thousands separators, then plain digits
_WORDS_FOLDED = {**{w.lower(): c for w, c in WORDS.items()}, **{c.lower(): c for c in CODES}}
_NUM = r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# scale words in any of the cases headlines use; short forms glued or after one space ("USD 1.2 bn"), m/k glued
_SCALE = (r"(?:\s?(?:[Tt]rillion|[Bb]illion|[Mm]illion|[Tt]housand|TRILLION|BILLION|MILLION|crore|lakh)\b|"
          r"\s?(?:tn|trn|bn|bln|mn|mln|Bn|BN)\b|(?:m|k)\b)")
_SYM = "|".join(re.escape(s) for s, _ in sorted(SYMBOLS, key=lambda x: -len(x[0])))
_CODE = "|".join(CODES)
_WORD = "|".join(re.escape(w) for w in sorted(WORDS, key=len, reverse=True))
_HEDGE = (r"(?:about|around|roughly|approximately|approx\.|nearly|almost|some|over|more than|less than|under|"
          r"up to|at least|close to|an estimated|estimated|as much as|upwards of|in excess of|just over|"
          r"just under|well over|below|above|estimated at|(?:did|does|do|will) not exceed|not exceeding|~)")

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
_SPELLED_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
                    "forty": 40, "fifty": 50, "hundred": 100, "a hundred": 100, "one hundred": 100, "half a": 0.5,
                    "a half": 0.5, "half": 0.5, "a quarter": 0.25, "quarter of a": 0.25, "a quarter of a": 0.25,
                    "quarter": 0.25, "three quarters": 0.75, "three quarters of a": 0.75, "one and a half": 1.5, "two and a half": 2.5}
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
KIND_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("loan", re.compile(r"\b(?:loans?|loaned|credit lines?|lines? of credit|credit facilit(?:y|ies)|credit agreements?|"
                        r"credits?(?! rating| card| score| risk| growth| to)|lend(?:s|ing)?|lent|"
                        r"lenders?|borrow(?:s|ed|ing)?|roll(?:s|ed)? over|rollover|stand-?by arrangement|"
                        r"bail-?outs?|concessional|preferential terms|on-lend(?:s|ing)?|onlend(?:s|ing)?)\b", re.I)),
    # central-bank deposits placed by a state are loans; the word alone is weak evidence
    ("loan_weak", re.compile(r"\bdeposits\b", re.I)),
    ("grant", re.compile(r"\bgrants?\b", re.I)),
    ("aid", re.compile(r"\b(?:(?:financial|economic|development|humanitarian|military|foreign)\s+(?:assistance|aid)|"
                       r"aid|assistance|donations?|donated|donors?)\b", re.I)),
    ("investment", re.compile(r"\b(?:invest(?:s|ed|ing|ment|ments|or|ors)?|FDI|stakes?|acquisitions?|"
                              r"acquired?)\b", re.I)),
    ("investment_weak", re.compile(r"\b(?:plants?|factor(?:y|ies)|refiner(?:y|ies)|smelters?|mines?|leased?|leases)\b",
                                   re.I)),
    ("trade", re.compile(r"\b(?:trade(?: turnover)?|turnover between|exports?|imports?|exported|imported|"
                         r"trading partners?)\b", re.I)),
    ("debt", re.compile(r"\b(?:debts?|owes?|owed|owing|repay(?:s|ment|ments)?|arrears|liabilit(?:y|ies)|"
                        r"bonds?|eurobonds?|indebted|writ(?:e|es|ten|ing) off|write-?offs?|restructur(?:e|ed|es|ing))\b",
                        re.I)),
    ("reserves", re.compile(r"\breserves\b", re.I)),
    ("market", re.compile(r"\b(?:trading (?:volume|value)|turnover(?! between)|market (?:capitali[sz]ation|cap|value)|"
                          r"stock market|prime market|shares changed hands|share average|stock index)\b", re.I)),
    ("financing", re.compile(r"\b(?:financ(?:e|es|ed|ing)|fund(?:s|ed|ing)?|commit(?:s|ted|ment|ments)|pledg(?:e|es|ed)|"
                             r"spend(?:s|ing)?|spent|budget)\b")),
    # words that name a financing package itself (not a generic verb): no penalty against specific words
    ("financing_strong", re.compile(r"\b(?:packages?|facilit(?:y|ies)|swaps?|arrangements?|(?:co-financ|cofinanc)(?:e|ed|es|ing)|"
                                    r"(?:total|project) costs?)\b", re.I)),
]
KIND_PATTERNS = [(kind, fast_start(rx)) for kind, rx in KIND_PATTERNS]  # same matches, found faster
# A sentence is scanned only for the kinds whose words it may hold: every match of a kind's pattern starts with
# one of the pattern's literal prefixes ("lend", "credit facilit"...), looked for with ``in`` (most sentences hold
# the words of one or two kinds). Pairs of (prefix, kind index), case-insensitive ones first.
# (The prefixes are ``Gated``'s; the pairs are looked through in one flat loop, the sentence folded once.)
_KIND_GATED = [Gated(rx) for _k, rx in KIND_PATTERNS]
_KIND_GATES = sorted(((p, i, g.anycase) for i, g in enumerate(_KIND_GATED) for p in g.prefixes or ()),
                     key=lambda g: not g[2])
_UNGATED = frozenset(i for i, g in enumerate(_KIND_GATED) if g.prefixes is None)
# (trade before market: "trade turnover" is trade, and ends where "turnover" does)
PRIORITY = {"loan": 0, "grant": 1, "aid": 2, "debt": 3, "reserves": 4, "trade": 5, "market": 6, "investment": 7,
            "financing": 8, "investment_weak": 9, "financing_strong": 8, "loan_weak": 9}
RECEIVE_VERBS = re.compile(r"\b(?:receiv(?:e|es|ed|ing)|absorb(?:s|ed)?|secur(?:e|es|ed)|obtain(?:s|ed)?|got|gets|"
                           r"won|wins|borrow(?:s|ed)?|attract(?:s|ed)?|owes?|owed|ratif(?:y|ies|ied)|sign(?:s|ed)|"
                           r"agree[sd]?|took|takes?|taken)\b", re.I)
GIVE_VERBS = re.compile(r"\b(?:lend(?:s)?|lent|(?:will|to|would|could|can|may) loan|provid(?:e|es|ed)|giv(?:e|es|en)|gave|grant(?:s|ed)|approv(?:e|es|ed)|"
                        r"open(?:s|ed)|extend(?:s|ed)|commit(?:s|ted)|pledg(?:e|es|ed)|offer(?:s|ed)|roll(?:s|ed)? over|"
                        r"invest(?:s|ed)?|add(?:s|ed)?|will add|financ(?:e|es|ed)|disburs(?:e|es|ed)|"
                        r"allocat(?:e|es|ed)|writ(?:e|es|ten|ing) off|forg(?:ive|ives|ave|iven)|cancel(?:s|led|ed)?|"
                        r"hand(?:s|ed|ing)? over|contribut(?:e|es|ed|ing)|underwr(?:ite|ites|ote|itten)|loaned|"
                        r"transfer(?:s|red)?|provid(?:ing)|extending|offering|lending|granting|allocating|investing|"
                        r"financing)\b", re.I)
# searched between a party and an amount, once per party and amount: with a look-ahead for their first characters
RECEIVE_VERBS, GIVE_VERBS, RATE_BEFORE = fast_start(RECEIVE_VERBS), fast_start(GIVE_VERBS), fast_start(RATE_BEFORE)
LENDER_KINDS = {"lender", "union", "aid", "multilateral", "central-bank", "bank", "fund", "company", "party", "recognised",
                "initiative"}
FLOW_KINDS = {"loan", "grant", "aid", "investment", "financing", "debt"}
# a sentence break is group "gap" (after . ! ? and a closing quote, before a capital or an opening quote) or a
# line break; the punctuation is matched (not looked behind for) so that ``re`` skips ahead to candidates
SENTENCE_END = fast_start(re.compile(r"[.!?](?P<gap>[\"”’)]?\s+)(?=[A-Z“\"(])|(?P<gap2>\n+)"))


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
    taken: list[tuple[int, int]] = []
    symbols = dict(SYMBOLS)

    def overlaps(s, e):
        return any(a < e and s < b for a, b in taken)

    def currency_of(pre: str, postword: str | None) -> str | None:
        pre = pre.strip()
        cur = symbols.get(pre) or (pre if pre in CODES else None)
        if postword in ("yuan", "renminbi", "RMB") and cur in ("JPY?", "CNY"):
            return "CNY"
        if postword == "yen" and cur == "JPY?":
            return "JPY"
        return cur

    def keep(raw):
        if raw is not None:
            out.append(raw)
            taken.append((raw.start, raw.end))

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


# ---------------------------------------------------------------- context


def _resolve_currency(cur: str, text: str, start: int, end: int, context: Callable[[], dict]) -> str:
    """The ISO code of an ambiguous symbol; ``context()`` (computed only when needed) gives the source clues."""
    if cur == "JPY?":  # ¥: yen in a Japanese source or next to "yen", yuan next to yuan/RMB or in Chinese context
        near = text[max(0, start - 30):end + 30].lower()
        if "yuan" in near or "rmb" in near or "renminbi" in near:
            return "CNY"
        if "yen" in near:
            return "JPY"
        clues = context()
        if clues.get("japanese_source"):
            return "JPY"
        if clues.get("chinese_source"):
            return "CNY"
        return "JPY" if clues["jp_score"] >= clues["cn_score"] else "CNY"
    if cur == "Rs":
        clues = context()
        indian = 1 if INDIAN_GROUPING.search(text, start, end) else 0  # "Rs 4,04,61,35,54,436": lakh grouping
        return "INR" if clues["in_score"] + indian > clues["pk_score"] else "PKR"
    return cur


# a story credited to or published by a Japanese / Chinese outlet ("(The Yomiuri Shimbun)", "Xinhua reported")
JAPANESE_MEDIA = Gated(re.compile(r"\b(?:Yomiuri Shimbun|The Japan News|Japan Times|Asahi Shimbun|Mainichi Shimbun|"
                                  r"Kyodo News|Nikkei Asia|NHK World)\b"))
CHINESE_MEDIA = Gated(re.compile(r"\b(?:Xinhua|China Daily|Global Times|CGTN|People's Daily|South China Morning Post)\b"))
JAPANESE_WORDS = Gated(re.compile(r"\b(?:yen|Nikkei|Topix)\b"))
CHINESE_WORDS = Gated(re.compile(r"\b(?:yuan|renminbi|RMB)\b"))
INDIAN_GROUPING = re.compile(r"\d,\d\d,\d")
INDIAN_WORDS = Gated(re.compile(r"\b(?:crore|lakh)\b"))


def source_context(text: str, site: str | None, lang: str | None, mentions: list[Mention] = ()) -> dict:
    """Clues for ambiguous symbols: the source (site, language) and how much the text is about which country."""
    src = (site or "").lower()
    by_country = {"JP": 0, "CN": 0, "PK": 0, "IN": 0}
    for m in mentions:
        code = m.ref.id if m.ref.type == "country" else m.ref.country
        if code in by_country:
            by_country[code] += 1
    return {
        "japanese_source": (lang or "").startswith("ja") or any(k in src for k in (
            "japan", "yomiuri", "nikkei", "asahi", "mainichi", "kyodo", ".jp", "nhk")) or " JST" in text
        or JAPANESE_MEDIA.search(text) is not None,
        "chinese_source": (lang or "").startswith("zh") or any(k in src for k in (
            "xinhua", "china", "cgtn", "globaltimes", ".cn", "people.com")) or CHINESE_MEDIA.search(text) is not None,
        "jp_score": by_country["JP"] + len(JAPANESE_WORDS.findall(text)),
        "cn_score": by_country["CN"] + len(CHINESE_WORDS.findall(text)),
        "pk_score": by_country["PK"],
        "in_score": by_country["IN"] + len(INDIAN_WORDS.findall(text)),
    }


class _Sentences:
    """Sentence boundaries of one text, found once (amounts look them up by position)."""

    def __init__(self, text: str):
        self.length = len(text)
        self.starts: list[int] = []
        self.ends: list[int] = []
        for m in SENTENCE_END.finditer(text):
            gap = "gap" if m.group("gap") is not None else "gap2"
            self.starts.append(m.start(gap))
            self.ends.append(m.end(gap))

    def bounds(self, pos: int) -> tuple[int, int]:
        i = bisect_right(self.ends, pos)  # the first break that ends after ``pos``
        start = self.ends[i - 1] if i else 0
        if i == len(self.ends):
            return start, self.length
        return start, self.starts[i] if self.starts[i] > pos else self.length


def _kind_hits(sentence: str, s0: int) -> list[tuple[int, int, str]]:
    """Every flow word of ``sentence`` (which starts at ``s0`` of the text), as (start, end, kind) in text
    offsets."""
    folded = fold(sentence)
    kinds = set(_UNGATED)
    for prefix, i, anycase in _KIND_GATES:
        if i not in kinds and prefix in (folded if anycase else sentence):
            kinds.add(i)
    hits = []
    for i in sorted(kinds):
        kind, rx = KIND_PATTERNS[i]
        hits += [(m.start() + s0, m.end() + s0, kind) for m in rx.finditer(sentence)]
    return hits


PURPOSE_BEFORE = re.compile(r"\b(?:to|will|would)\s+(?:help\s+|be\s+used\s+to\s+)?$", re.I)
COORDINATED = re.compile(r"^\s*(?:and|or|&|/)\s*$")
BUDGET_CUT = re.compile(r"\b(?:cut|cuts|slash\w*|trim\w*|reduc\w*)\b[^.;]{0,40}\bbudget\b|"
                        r"\bbudget\b[^.;]{0,20}\b(?:cut|cuts)\b", re.I)


def _kind(text: str, hits: list[tuple[int, int, str]], b0: int, b1: int, start: int, end: int) -> str:
    """The kind of flow of the amount [start, end): the nearest flow word within [b0, b1) (a clause or the
    sentence), generic words counting as farther away than specific ones, and a word of the purpose after the
    amount ("... to import weapons", "... to finance the plant") farther still."""
    best: tuple[int, int, str] | None = None
    scored = []
    for h0, h1, kind in hits:
        if h0 < b0 or h1 > b1:
            continue
        if h1 <= start:
            dist = start - h1
        elif h0 >= end:
            dist = h0 - end
            if kind != "loan" and PURPOSE_BEFORE.search(text, max(b0, h0 - 30), h0):
                dist += 1000  # only when no other word is there at all
        else:
            continue
        if kind in ("investment_weak", "loan_weak"):
            dist += 40
        elif kind == "financing":
            dist += 15  # generic words ("pledged", "funding") yield to a specific one nearby
        cand = (dist, PRIORITY[kind], kind)
        scored.append((cand, h0, h1))
        if best is None or cand < best:
            best = cand
    if best is None or best[0] >= 1000:
        return "other"  # no flow word, or only one of the purpose ("... to import weapons")
    kind = {"investment_weak": "investment", "financing_strong": "financing", "loan_weak": "loan"}.get(best[2], best[2])
    if kind in ("loan", "grant", "aid"):
        # "$310 million in grants and loans": two kinds of flow joined, one figure: financing
        (_c, h0, h1) = next(x for x in scored if x[0] == best)
        for (c2, g0, g1) in scored:
            other = {"investment_weak": "investment", "loan_weak": "loan"}.get(c2[2], c2[2])
            if other != kind and other in ("loan", "grant", "aid") and (
                    COORDINATED.match(text[h1:g0]) or COORDINATED.match(text[g1:h0])):
                return "financing"
    if kind in ("financing",) and BUDGET_CUT.search(text, b0, b1):
        return "other"  # "cut the 2015 budget by $1.42 billion"
    return kind


BETWEEN_BEFORE = re.compile(r"\bbetween\s*$", re.I)
TO_BEFORE = re.compile(r"\b(?:to|for|into|in)\s+(?:the\s+)?$")
CLAUSE_WORDS = fast_start(re.compile(r"[,;:]|\b(?:which|that|where|who|used)\b"))
FROM_BEFORE = re.compile(r"\b(?:from|(?:financed|funded|provided|allocated|underwritten|granted|lent|extended|"
                         r"offered|given|issued|backed|arranged) by|with)\s+(?:the\s+)?$")
_SUBJECT_BREAK = re.compile(r"[,;:(]|\b(?:and|but|while|which|that|who)\b")
DEBT_TO_BEFORE = re.compile(r"\b(?:debts?|owed|owes?|arrears|liabilit(?:y|ies))\s+(?:\w+\s+){0,2}(?:to|in)\s+(?:the\s+)?$")
FLOW_TO_BEFORE = re.compile(r"\b(?:assistance|aid|loans?|grants?|credits?|investments?|financing|funding|support|"
                            r"lending|ODA)\)?\s+(?:to|for)\s+(?:the\s+)?$")
OWES_BEFORE = re.compile(r"\b(?:owes?|owed|owing)\s+(?:the\s+)?$")
_DEVELOPMENT_LENDERS = frozenset({"lender", "union", "aid", "multilateral", "fund"})
_BREAK_IN = re.compile(r"[,;(—–]")
FLOW_NOUN_AFTER = re.compile(r"(?:['’]s)?\s+(?:financing|loans?|investments?|aid|credit|grants?|funding|lending)\b")


def _party_value(m: Mention) -> str | None:
    ref = m.ref
    if ref.type == "country":
        return ref.id
    if ref.type == "org":
        if ref.kind in ("party",) and ref.country:
            return ref.country  # a ruling party acting for its state ("CCP financing" -> CN)
        return ref.id
    return None


def _parties(text: str, s0: int, s1: int, start: int, end: int, kind: str,
             mentions: list[Mention]) -> tuple[str | None, str | None]:
    in_sent = [m for m in mentions if s0 <= m.start < s1 and m.ref.type in ("country", "org")]
    countries_before = [m for m in in_sent if m.end <= start and m.ref.type == "country"]
    # after the amount: countries, and companies of a country ("a credit line to Turkmengaz")
    after = [m for m in in_sent if m.start >= end and (m.ref.type == "country" or
                                                        (m.ref.kind == "company" and m.ref.country))]
    lender = recipient = None
    # recipient: "... loan to|for|into Uzbekistan" right after the amount, in the same clause
    for m in after:
        gap = text[end:m.start]
        if (len(gap) < 45 and TO_BEFORE.search(gap) and not CLAUSE_WORDS.search(gap)
                and text[m.end:m.end + 1] not in ("-", "–")):
            if kind == "debt":  # "$1.2 billion is owed to China": the creditor
                lender = m.ref.id if m.ref.type == "country" else _party_value(m)
                break
            recipient = m.ref.id if m.ref.type == "country" else m.ref.country
            break
    # "owes China $1.2 billion": the creditor
    for m in reversed(in_sent):
        if m.end <= start and OWES_BEFORE.search(text, max(0, m.start - 12), m.start) and len(text[m.end:start]) < 4:
            lender = _party_value(m)
            break
        if m.end <= start and DEBT_TO_BEFORE.search(text, max(0, m.start - 40), m.start) and len(text[m.end:start]) < 30:
            lender = _party_value(m)  # "Sri Lanka's debts to China (rose) to $8 billion"
            break
    # recipient: "... assistance to Bangladesh amounting $3.2 billion"
    if recipient is None:
        for m in reversed(countries_before):
            gap = text[m.end:start]
            if (len(gap) < 30 and FLOW_TO_BEFORE.search(text, max(0, m.start - 40), m.start)
                    and not CLAUSE_WORDS.search(gap) and not GIVE_VERBS.search(gap)):
                recipient = m.ref.id
            break
    # recipient: "Kazakhstan (alone) has absorbed ... $33 billion", "Tajikistan's parliament ratified ..."
    if recipient is None:
        for m in reversed(countries_before):
            between = text[m.end:start]
            if RECEIVE_VERBS.search(between) and not GIVE_VERBS.search(between):
                recipient = m.ref.id
                break
    # lender: "from China", an institution or state that gives/lends before the amount, "CCP financing"
    for m in in_sent if lender is None else ():
        gap = text[end:m.start]
        by = FROM_BEFORE.search(gap) if m.start >= end and len(gap) < 60 and not _BREAK_IN.search(gap) else None
        if by and (m.ref.kind in _DEVELOPMENT_LENDERS if by.group().startswith("with") else
                   m.ref.type == "country" or m.ref.kind in LENDER_KINDS):
            lender = _party_value(m)
            break
    if lender is None:
        for m in reversed([x for x in in_sent if x.end <= start]):
            between = text[m.end:start]
            if m.ref.type == "org" and m.ref.kind is not None and m.ref.kind not in LENDER_KINDS:
                continue
            verb = GIVE_VERBS.search(between)
            # the giver is the verb's subject: no clause break between the name and the verb
            if verb and not RECEIVE_VERBS.search(between) and not _SUBJECT_BREAK.search(between, 0, verb.start()):
                lender = _party_value(m)
                break
    if lender is None:
        for m in in_sent:  # "<party> financing|loans|investment" right next to the flow word
            tail = text[m.end:m.end + 25]
            if FLOW_NOUN_AFTER.match(tail):
                lender = _party_value(m)
                break
    if lender is None and kind in FLOW_KINDS:
        lenders = [m for m in in_sent if m.ref.type == "org" and m.ref.kind in ("lender", "union", "aid")]
        if len({m.ref.id for m in lenders}) == 1:
            lender = lenders[0].ref.id
    if recipient is None and kind in FLOW_KINDS:
        # a foreign lender and exactly one other country in the sentence: that country receives
        lender_country = next((m.ref.country for m in in_sent if _party_value(m) == lender), lender)
        others = {m.ref.id for m in in_sent if m.ref.type == "country" and m.ref.id != lender_country}
        if lender and len(others) == 1:
            recipient = others.pop()
    if recipient == lender:
        recipient = None
    return lender, recipient


_CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:and|but|while|whereas)\s+")


def _clause_bounds(text: str, s0: int, s1: int, start: int, end: int) -> tuple[int, int]:
    """The clause of the sentence [s0, s1) that holds the amount [start, end)."""
    c0, c1 = s0, s1
    for m in _CLAUSE_BREAK.finditer(text, s0, s1):
        if m.end() <= start:
            c0 = m.end()
        elif m.start() >= end:
            c1 = m.start()
            break
    return c0, c1


def _masked(text: str, s0: int, s1: int, names: list[Mention]) -> str:
    """``text[s0:s1]`` with the parts of ``names`` in it blanked out (same length, so offsets stay valid)."""
    inside = [m for m in names if m.start < s1 and m.end > s0]
    if not inside:
        return text[s0:s1]
    chars = list(text[s0:s1])
    for m in inside:
        a, b = max(m.start, s0) - s0, min(m.end, s1) - s0
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def find_finance(text: str, mentions: list[Mention], *, published: date | None = None,
                 site: str | None = None, lang: str | None = None):
    """Finance mentions (as schema objects) in ``text``; ``mentions`` are its entity mentions."""
    from ..schemas.story import FinanceMention

    context = cache(lambda: source_context(text, site, lang, mentions))  # only ¥ and Rs need it
    # names are not flow words: "Asian Infrastructure Investment Bank" says nothing about the kind of flow
    names = [m for m in mentions if m.ref.type in ("org", "person")]
    lender_kinds = {m.ref.id: m.ref.kind for m in mentions if m.ref.type == "org"}
    out: list[FinanceMention] = []
    raws = sorted(_find_raw(text), key=lambda r: r.start)
    sentences = _Sentences(text) if raws else None
    kind_hits: dict[tuple[int, int], list] = {}  # per sentence: several amounts often share one
    in_sentence: dict[tuple[int, int], list[Mention]] = {}
    for raw in raws:
        cur = _resolve_currency(raw.currency, text, raw.start, raw.end, context)
        s0, s1 = sentences.bounds(raw.start)
        hits = kind_hits.get((s0, s1))
        if hits is None:
            hits = kind_hits[(s0, s1)] = _kind_hits(_masked(text, s0, s1, names), s0)
            in_sentence[(s0, s1)] = [m for m in mentions if s0 <= m.start < s1]
        near = in_sentence[(s0, s1)]  # all that the clause and sentence look at (of ~50 mentions in a story)
        sentence = text[s0:s1].strip()
        kind = lender = recipient = None
        # the clause first ("the EU adds a €35 million grant, and the AIIB is considering $150 million"),
        # then the whole sentence
        clause = _clause_bounds(text, s0, s1, raw.start, raw.end)
        # (a clause that is the whole sentence is looked at once: a second pass would find the same)
        for b0, b1 in ((clause, (s0, s1)) if clause != (s0, s1) else (clause,)):
            k = _kind(text, hits, b0, b1, raw.start, raw.end)
            lend, recip = _parties(text, b0, b1, raw.start, raw.end, k, near)
            if k == "other":  # no flow word, but a development bank or donor there puts up the sum
                funders = {m.ref.id for m in near if b0 <= m.start < b1 and m.ref.type == "org"
                           and m.ref.kind in ("lender", "aid", "union")}
                if lender_kinds.get(lend) in ("lender", "aid", "union") or len(funders) == 1:
                    k, lend = "financing", lend or next(iter(funders))
            kind, lender, recipient = kind or k, lender or lend, recipient or recip
            if kind != "other" and (b0, b1) != (s0, s1):
                break  # the clause settled it
            if kind == "other":
                kind = None  # let the sentence decide
        kind = kind or "other"
        if raw.amount < 10_000:
            kind = "other"  # "2,634 soums", "28 U.S. cents": a price or a fee, not a flow
        usd, note = to_usd(raw.amount, cur, published)
        out.append(FinanceMention(
            text=raw.text, amount=raw.amount, amount_max=raw.amount_max, currency=cur, usd=usd, usd_note=note,
            approx=raw.approx, kind=kind, lender=lender, recipient=recipient, sentence=sentence[:1000],
            start=raw.start, end=raw.end))
    return out


def headline_kind(text: str, title_end: int) -> str | None:
    """The specific kind of flow a headline names ("... approves military loan from Russia"), if one."""
    if title_end <= 0:
        return None
    kinds = {k for _a, _b, k in _kind_hits(text[:title_end], 0)} & {"loan", "grant", "aid", "investment"}
    return kinds.pop() if len(kinds) == 1 else None
