"""Money amounts in a story: parsed (:mod:`.money`), normalised to ISO 4217 (:mod:`.currency`) and USD
(:mod:`.usd`), classified (:mod:`.kinds`), with lender and recipient (:mod:`.parties`).

Only amounts written with a currency (symbol, code or word) are money; counts, percentages, volumes,
exchange rates ("149 per dollar") and unit prices ("$82.10", "$74.20 a barrel") are not finance mentions.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from datetime import date
from functools import cache

from .currency import _resolve_currency, source_context
from .entities import Mention
from .kinds import _kind, _kind_hits
from .money import _find_raw
from .parties import sentence_parties
from .usd import to_usd

# a sentence break is group "gap" (after . ! ? and a closing quote, before a capital or an opening quote) or a
# line break; the punctuation is matched (not looked behind for) so that ``re`` skips ahead to candidates
SENTENCE_END = re.compile(r"[.!?](?P<gap>[\"”’)]?\s+)(?=[A-Z“\"(])|(?P<gap2>\n+)")


MAX_SENTENCE = 1200  # characters: longer "sentences" (lists, tables, junk) are read in windows


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
        """The sentence at ``pos``; of a sentence longer than :data:`MAX_SENTENCE`, the window around ``pos`` (a
        page of thousands of amounts in one "sentence" costs linear time, not quadratic)."""
        i = bisect_right(self.ends, pos)  # the first break that ends after ``pos``
        start = self.ends[i - 1] if i else 0
        end = self.length if i == len(self.ends) else (self.starts[i] if self.starts[i] > pos else self.length)
        if end - start > MAX_SENTENCE:
            start, end = max(start, pos - MAX_SENTENCE // 2), min(end, pos + MAX_SENTENCE // 2)
        return start, end


def names_in(mentions: list[Mention], starts: list[int], s0: int, s1: int) -> list[Mention]:
    """The mentions (sorted by start; ``starts`` their starts) that start in [s0, s1)."""
    return mentions[bisect_left(starts, s0):bisect_left(starts, s1)]



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
    mentions = sorted(mentions, key=lambda m: m.start)
    starts = [m.start for m in mentions]
    sentences = _Sentences(text) if raws else None
    kind_hits: dict[tuple[int, int], list] = {}  # per sentence: several amounts often share one
    in_sentence: dict[tuple[int, int], list[Mention]] = {}
    for raw in raws:
        cur = _resolve_currency(raw.currency, text, raw.start, raw.end, context)
        s0, s1 = sentences.bounds(raw.start)
        hits = kind_hits.get((s0, s1))
        if hits is None:
            hits = kind_hits[(s0, s1)] = _kind_hits(_masked(text, s0, s1, names), s0)
            in_sentence[(s0, s1)] = names_in(mentions, starts, s0, s1)
        near = in_sentence[(s0, s1)]  # all that the clause and sentence look at (of ~50 mentions in a story)
        sentence = text[s0:s1].strip()
        kind = lender = recipient = None
        # the clause first ("the EU adds a €35 million grant, and the AIIB is considering $150 million"),
        # then the whole sentence
        clause = _clause_bounds(text, s0, s1, raw.start, raw.end)
        # (a clause that is the whole sentence is looked at once: a second pass would find the same)
        for b0, b1 in ((clause, (s0, s1)) if clause != (s0, s1) else (clause,)):
            k = _kind(text, hits, b0, b1, raw.start, raw.end)
            lend, recip = sentence_parties(text, b0, b1, raw.start, raw.end, k, near)
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

