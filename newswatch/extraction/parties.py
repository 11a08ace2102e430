"""Lender and recipient from the story's structure, where the amount's own sentence does not name them.

News introduces a deal once and then refers back to it ("The ADB approved a loan to Tajikistan… The $150 million
will…"), and often names who receives only in the headline or the lead ("Kyrgyzstan: Russia writes off…"). So,
for a flow (loan, grant, aid, investment, financing, debt) whose sentence left a party open:

* the party of the flow just before it, within the same stretch of text (``CARRY`` characters), carries over;
* the recipient is then the country the story is about — the headline's, else the lead's, else the one the body
  names most — unless that country is the lender's own;
* the lender is then the one funder (a development bank, an aid agency, a union of states) named in the headline
  or the lead.
Pure functions over the story's mentions; language-neutral (the mentions carry the language's knowledge).
"""
from __future__ import annotations

import re
from collections import Counter

from .entities import Mention

FLOW_KINDS = frozenset({"loan", "grant", "aid", "investment", "financing", "debt"})
FUNDER_KINDS = frozenset({"lender", "union", "aid", "multilateral", "fund"})
CARRY = 400  # characters: the sentence before and the one after a deal's introduction
LEAD = 400  # characters of the body that count as its lead


def state_of(party: str | None, mentions: list[Mention]) -> str | None:
    """The country a lender stands for: itself if a country, an organisation's state, else None."""
    if party is None:
        return None
    for m in mentions:
        if m.ref.id == party:
            return m.ref.id if m.ref.type == "country" else m.ref.country
    return party if len(party) == 2 and party.isupper() else None


def subject_countries(mentions: list[Mention], title_end: int) -> list[str]:
    """Countries the story is about, most central first: headline, then lead, then how often the body names them."""
    lead_end = title_end + 2 + LEAD
    score: Counter[str] = Counter()
    for m in mentions:
        if m.ref.type != "country":
            continue
        score[m.ref.id] += 6 if m.start < title_end else 3 if m.start < lead_end else 1
    return [c for c, _ in score.most_common()]


def _story_funder(mentions: list[Mention], title_end: int) -> str | None:
    lead_end = title_end + 2 + LEAD
    funders = {m.ref.id for m in mentions if m.start < lead_end and m.ref.type == "org" and m.ref.kind in FUNDER_KINDS}
    return funders.pop() if len(funders) == 1 else None


def fill_parties(finance: list, mentions: list[Mention], title_end: int) -> None:
    """Set missing lenders and recipients of the flows in ``finance`` (in text order) from the story's structure."""
    funder = _story_funder(mentions, title_end)
    last = None
    for f in finance:  # an amount with no flow word of its own, right after a flow, is more of that flow
        if f.kind == "other" and last is not None and f.start - last.end <= CARRY:
            f.kind = last.kind
        if f.kind in FLOW_KINDS:
            last = f
    flows = [f for f in finance if f.kind in FLOW_KINDS]
    named = {f.lender for f in flows} - {None}
    # the one lender the story names for its flows lends the rest of them too
    funder = funder or (named.pop() if len(named) == 1 else None)
    for prev, f in zip([None, *flows], flows):
        if f.lender is None:
            f.lender = prev.lender if prev is not None and f.start - prev.end <= CARRY and prev.lender else funder
    # a state that lends in this story is not where its money goes, unless a sentence says so
    lending = {state_of(f.lender, mentions) for f in finance} - {None}
    subjects = [c for c in subject_countries(mentions, title_end) if c not in lending]
    for prev, f in zip([None, *flows], flows):
        if f.recipient is None:
            if prev is not None and f.start - prev.end <= CARRY and prev.recipient:
                f.recipient = prev.recipient
            elif not any(m.ref.type == "region" and abs(m.start - f.start) < 150 for m in mentions):
                # (a regional total, "$105 billion in Central Asia", has no one recipient)
                f.recipient = subjects[0] if subjects else None
        if f.recipient is not None and f.recipient == state_of(f.lender, mentions):
            f.recipient = None


_BRACKET_BEFORE = re.compile(r"[(\[]\s*(?:about|around|roughly|approximately|approx\.|some|nearly|almost|or|"
                             r"equivalent to|worth|i\.e\.)?\s*$", re.I)
_EQUIVALENT_BEFORE = re.compile(r"\b(?:equivalent to|equal to|equalling|or about|or around|or some)\s+"
                                r"(?:about\s+|around\s+|roughly\s+|approximately\s+|some\s+|nearly\s+)?$", re.I)


def mark_equivalents_and_repeats(finance, full_text: str) -> None:
    """An amount in another currency that converts the one before it ("8 billion yuan (about $1.1 billion)",
    "$1 billion, equivalent to around Rs290 billion"): ``equivalent_of``, with that one's kind and parties; the
    same amount and currency again later: ``repeat_of`` the first."""
    for i, m in enumerate(finance):
        if m.equivalent_of is not None or m.repeat_of is not None:
            continue
        prev = finance[i - 1] if i else None
        gap = full_text[prev.end:m.start] if prev is not None and prev.end <= m.start else None
        if gap is not None and prev.currency != m.currency and (
                (len(gap) < 20 and _BRACKET_BEFORE.search(gap)) or (len(gap) < 80 and _EQUIVALENT_BEFORE.search(gap)
                                                                    and "." not in gap.replace("approx.", ""))):
            m.equivalent_of = i - 1
            m.kind, m.lender, m.recipient = prev.kind, prev.lender or m.lender, prev.recipient or m.recipient
            continue
        first = next((j for j, o in enumerate(finance[:i]) if o.amount == m.amount and o.currency == m.currency
                      and o.amount_max == m.amount_max and o.repeat_of is None and o.equivalent_of is None), None)
        if first is not None:
            m.repeat_of = first
