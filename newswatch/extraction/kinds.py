"""The kind of flow of a money mention: the flow words of its clause and sentence, nearest and most specific
first, and the headline's."""
from __future__ import annotations

import re

from ._regex import Gated, fold

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



def headline_kind(text: str, title_end: int) -> str | None:
    """The specific kind of flow a headline names ("... approves military loan from Russia"), if one."""
    if title_end <= 0:
        return None
    kinds = {k for _a, _b, k in _kind_hits(text[:title_end], 0)} & {"loan", "grant", "aid", "investment"}
    return kinds.pop() if len(kinds) == 1 else None
