"""Story-level reading of money mentions: equivalents and repeats, and lenders, recipients and kinds that the
sentence of an amount does not name but the story does.

News names the parties of a deal once — in the headline, the lead or the sentence that introduces it — and then
writes "the $150 million will...", "It owes China...", "Of these deposits, $2 billion...". The sentence rules in
:mod:`.finance` read what a sentence says; this module fills the gaps from the story's structure: the country the
story is about (headline and lead weigh most), the lender it names, the previous sentence.
"""
from __future__ import annotations

import re
from collections import Counter

from .entities import Mention

FLOW_KINDS = frozenset({"loan", "grant", "aid", "investment", "financing", "debt"})
LENDER_ORG_KINDS = frozenset({"lender", "union", "aid", "multilateral", "fund"})
# a bracketed or appended figure in another currency converts the one before it
_EQUIVALENT_BEFORE = re.compile(
    r"(?:[(\[]\s*|,\s*|\s)(?:(?:about|around|roughly|approximately|approx\.|some|nearly|almost|or|equivalent to|"
    r"equal to|equivalent of|worth|i\.e\.|which is|or about|or around|or roughly|or some)\s*)*(?:US)?\s*$", re.I)
# totals for a region or the world have no one recipient ("$105 billion in Central Asia", "in the world")
_WIDE = re.compile(r"\b(?:in the world|worldwide|globally|around the globe|developing (?:countries|nations)|"
                   r"across (?:the region|Asia|Africa|Europe|Central Asia))\b")
# a total the story's flows are part of: "the total cost of the project is $3 billion", "a $225 million package"
_TOTAL_CUE = re.compile(r"\b(?:total(?:ling|ing|led|ed|s)?|in all|overall|(?:project|programme|program)(?:'s)? costs?|"
                        r"costs? of the (?:project|programme|program|plant|complex)|(?:is|are) estimated to cost|"
                        r"will cost|packages?)\b", re.I)
# money of a state's own budget ("from the state budget", "budget funds"): domestic, no recipient
_OWN_BUDGET = re.compile(r"\b(?:(?:state|national|federal|republican|regional|local|government|own) budget|"
                         r"budget (?:funds|money|allocations?)|(?:regional|local|provincial|city|municipal|oblast) "
                         r"(?:government|authorities|administration)|akimat|municipality)\b", re.I)
_PRONOUN_START = re.compile(r"\s*(?:It(?!\s+(?:is|was|has been|will be|would be|seems)\b)|Its|The country|The republic|The nation)\b")


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
LENDER_KINDS = {"lender", "union", "aid", "multilateral", "central-bank", "bank", "fund", "company", "party", "recognised",
                "initiative"}
TO_BEFORE = re.compile(r"\b(?:to|for|into|in)\s+(?:the\s+)?$")
CLAUSE_WORDS = re.compile(r"[,;:]|\b(?:which|that|where|who|used)\b")
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


class _Clause:
    """One amount [start, end) and the names of its clause or sentence, as the party rules read them."""

    def __init__(self, text: str, s0: int, s1: int, start: int, end: int, kind: str, mentions: list[Mention]):
        self.text, self.start, self.end, self.kind = text, start, end, kind
        self.names = [m for m in mentions if s0 <= m.start < s1 and m.ref.type in ("country", "org")]
        self.before = [m for m in self.names if m.end <= start]
        self.countries_before = [m for m in self.before if m.ref.type == "country"]
        # after the amount: countries, and companies of a country ("a credit line to Turkmengaz")
        self.after = [m for m in self.names if m.start >= end and (
            m.ref.type == "country" or (m.ref.kind == "company" and m.ref.country))]


def _to_after(c: _Clause) -> tuple[str | None, str | None]:
    """"... loan to|for|into Uzbekistan" right after the amount: the recipient; for debt ("is owed to China") the
    creditor, i.e. the lender."""
    for m in c.after:
        gap = c.text[c.end:m.start]
        if (len(gap) < 45 and TO_BEFORE.search(gap) and not CLAUSE_WORDS.search(gap)
                and c.text[m.end:m.end + 1] not in ("-", "–")):
            if c.kind == "debt":
                return (m.ref.id if m.ref.type == "country" else _party_value(m)), None
            return None, m.ref.id if m.ref.type == "country" else m.ref.country
    return None, None


def _creditor_before(c: _Clause) -> str | None:
    """"owes China $1.2 billion", "Sri Lanka's debts to China (rose) to $8 billion": the creditor."""
    for m in reversed(c.before):
        gap = len(c.text[m.end:c.start])
        if gap < 4 and OWES_BEFORE.search(c.text, max(0, m.start - 12), m.start):
            return _party_value(m)
        if gap < 30 and DEBT_TO_BEFORE.search(c.text, max(0, m.start - 40), m.start):
            return _party_value(m)
    return None


def _flow_to_before(c: _Clause) -> str | None:
    """"... assistance to Bangladesh amounting $3.2 billion": the country right before the amount."""
    if not c.countries_before:
        return None
    m = c.countries_before[-1]
    gap = c.text[m.end:c.start]
    if (len(gap) < 30 and FLOW_TO_BEFORE.search(c.text, max(0, m.start - 40), m.start)
            and not CLAUSE_WORDS.search(gap) and not GIVE_VERBS.search(gap)):
        return m.ref.id
    return None


def _receiver_before(c: _Clause) -> str | None:
    """"Kazakhstan (alone) has absorbed ... $33 billion", "Tajikistan's parliament ratified ..."."""
    for m in reversed(c.countries_before):
        between = c.text[m.end:c.start]
        if RECEIVE_VERBS.search(between) and not GIVE_VERBS.search(between):
            return m.ref.id
    return None


def _source_after(c: _Clause) -> str | None:
    """"from China", "financed by the ADB", "a loan with the EBRD" after the amount, in the same clause."""
    for m in c.names:
        gap = c.text[c.end:m.start]
        by = FROM_BEFORE.search(gap) if m.start >= c.end and len(gap) < 60 and not _BREAK_IN.search(gap) else None
        if by and (m.ref.kind in _DEVELOPMENT_LENDERS if by.group().startswith("with") else
                   m.ref.type == "country" or m.ref.kind in LENDER_KINDS):
            return _party_value(m)
    return None


def _giver_before(c: _Clause) -> str | None:
    """The subject of a giving verb before the amount ("China lent", "the ADB will provide"): no clause break
    between the name and the verb, no receiving verb between the name and the amount."""
    for m in reversed(c.before):
        if m.ref.type == "org" and m.ref.kind is not None and m.ref.kind not in LENDER_KINDS:
            continue
        between = c.text[m.end:c.start]
        verb = GIVE_VERBS.search(between)
        if verb and not RECEIVE_VERBS.search(between) and not _SUBJECT_BREAK.search(between, 0, verb.start()):
            return _party_value(m)
    return None


def _flow_noun_party(c: _Clause) -> str | None:
    """"<party> financing|loans|investment": the party right before a flow noun."""
    for m in c.names:
        if FLOW_NOUN_AFTER.match(c.text[m.end:m.end + 25]):
            return _party_value(m)
    return None


def _sole_funder(c: _Clause) -> str | None:
    """One development lender, donor or union named with a flow of money: it provides it."""
    if c.kind not in FLOW_KINDS:
        return None
    ids = {m.ref.id for m in c.names if m.ref.type == "org" and m.ref.kind in ("lender", "union", "aid")}
    return ids.pop() if len(ids) == 1 else None


def _beside_lender(c: _Clause, lender: str | None) -> str | None:
    """A foreign lender and exactly one other country in the clause: that country receives."""
    if c.kind not in FLOW_KINDS or not lender:
        return None
    lender_country = next((m.ref.country for m in c.names if _party_value(m) == lender), lender)
    others = {m.ref.id for m in c.names if m.ref.type == "country" and m.ref.id != lender_country}
    return others.pop() if len(others) == 1 else None


def sentence_parties(text: str, s0: int, s1: int, start: int, end: int, kind: str,
                     mentions: list[Mention]) -> tuple[str | None, str | None]:
    """(lender, recipient) of the amount [start, end) as its clause or sentence [s0, s1) names them: each rule
    in turn, the first that finds a party wins."""
    c = _Clause(text, s0, s1, start, end, kind, mentions)
    lender, recipient = _to_after(c)
    lender = _creditor_before(c) or lender
    recipient = recipient or _flow_to_before(c) or _receiver_before(c)
    lender = lender or _source_after(c) or _giver_before(c) or _flow_noun_party(c) or _sole_funder(c)
    recipient = recipient or _beside_lender(c, lender)
    return lender, (None if recipient == lender else recipient)


# ---------------------------------------------------------------- the story


def mark_equivalents_and_repeats(finance, text: str) -> None:
    """A figure in another currency right after an amount converts it ("2.2 billion tenge (€7 million
    equivalent)", "$1 billion, equivalent to around Rs290 billion"): ``equivalent_of`` that mention, whose kind
    and parties it shares; the same amount and currency again later: ``repeat_of`` the first."""
    firsts: dict[tuple, int] = {}  # (amount, currency, upper bound) -> the first mention of that figure
    for i, m in enumerate(finance):
        if m.equivalent_of is not None or m.repeat_of is not None:
            continue
        prev = finance[i - 1] if i else None
        if (prev is not None and prev.currency != m.currency and prev.end <= m.start and m.start - prev.end < 60
                and prev.equivalent_of is None and _EQUIVALENT_BEFORE.search(text[prev.end:m.start])
                and "." not in text[prev.end:m.start].replace("approx.", "")):
            m.equivalent_of = i - 1
            continue
        key = (m.amount, m.currency, m.amount_max)
        if key in firsts:
            m.repeat_of = firsts[key]
        else:
            firsts[key] = i
    for m in finance:
        if m.repeat_of is not None:  # the same flow again: what either mention says of it holds for both
            src = finance[m.repeat_of]
            src.lender, src.recipient = src.lender or m.lender, src.recipient or m.recipient
            m.lender, m.recipient = src.lender, src.recipient
            if m.kind == "other":
                m.kind = src.kind
    for m in finance:
        if m.equivalent_of is not None:
            src = finance[m.equivalent_of]
            if src.kind == "other" and m.kind != "other":
                src.kind = m.kind
            m.kind = src.kind
            src.lender, src.recipient = src.lender or m.lender, src.recipient or m.recipient
            m.lender, m.recipient = src.lender, src.recipient


def drop_repeats(finance) -> list:
    """The story's mentions with each later ``repeat_of`` of the same kind left out: a figure written again for
    the same flow is one mention (its parties merged into the first); the same figure as another kind of flow
    ("$1.4 billion" of investment, then a $1.4 billion swap line) stays, as a mention of its own."""
    out, index = [], {}
    for i, m in enumerate(finance):
        if m.repeat_of is not None and finance[m.repeat_of].kind == m.kind and m.repeat_of in index:
            first = finance[m.repeat_of]
            first.lender, first.recipient = first.lender or m.lender, first.recipient or m.recipient
            first.aggregate = first.aggregate or m.aggregate
            continue
        m.repeat_of = None
        index[i] = len(out)
        out.append(m)
    for m in out:
        if m.equivalent_of is not None:
            m.equivalent_of = index.get(m.equivalent_of)
    return out


def _state(m: Mention) -> str | None:
    """The state a name stands for: a country, or an organisation's country (none for multilaterals)."""
    if m.ref.type == "country":
        return m.ref.id
    if m.ref.type == "org":
        return m.ref.country
    return None


def story_recipient(text: str, title_end: int, mentions: list[Mention], lender_states: set[str]) -> str | None:
    """The country a financing story is about: the one named most, the headline and the lead counting triple
    and double; states that lend in the story do not count. None when two countries tie."""
    score: Counter[str] = Counter()
    lead_end = title_end + 2 + 400
    for m in mentions:
        if m.ref.type not in ("country", "region") or m.ref.id in lender_states:
            continue
        score[m.ref.id] += 3 if m.start < title_end else 2 if m.start < lead_end else 1
    if not score or len(score.most_common(1)[0][0]) != 2:
        return None  # nothing, or a story about a region ("Central Asian transport links"): no one country
    (best, n), *rest = score.most_common(2) + [(None, 0)]
    return best if n > rest[0][1] else None


def _previous_subject(text: str, s0: int, mentions: list[Mention], sentence_of, skip: set[str]) -> str | None:
    """The first country of the sentence before the one at ``s0`` (what "It" refers to), lenders aside."""
    if s0 <= 0:
        return None
    p0, p1 = sentence_of(max(0, s0 - 2))
    return next((m.ref.id for m in mentions if p0 <= m.start < p1 and m.ref.type == "country"
                 and m.ref.id not in skip), None)


def fill_from_story(finance, text: str, title_end: int, mentions: list[Mention], sentence_of,
                    headline_kind: str | None = None) -> None:
    """Lenders, recipients and kinds the sentence of a mention does not give, from the story (in place).
    ``sentence_of(pos)`` gives the (start, end) of the sentence at ``pos``; ``headline_kind`` the kind of flow
    the headline names, if any."""
    if not finance:
        return
    from .finance import names_in

    mentions = sorted(mentions, key=lambda m: m.start)
    starts = [m.start for m in mentions]
    by_id = {m.ref.id: m for m in mentions}
    lenders = [f.lender for f in finance if f.lender and f.kind in FLOW_KINDS]
    lender_states = {s for s in (_state(by_id[x]) if x in by_id else x for x in lenders) if s}
    funders = {m.ref.id for m in mentions if m.ref.type == "org" and m.ref.kind in LENDER_ORG_KINDS}
    recipients = {f.recipient for f in finance if f.recipient}
    lender_states -= recipients  # a state that receives somewhere in the story is not only a lender
    story_lender = None
    if len(set(lenders)) == 1:
        story_lender = lenders[0]
    elif not lenders and len(funders) == 1:
        story_lender = next(iter(funders))
    lender_states |= {_state(by_id[story_lender])} if story_lender in by_id and _state(by_id[story_lender]) else set()
    if story_lender and len(story_lender) == 2:
        lender_states.add(story_lender)
    recipient = story_recipient(text, title_end, mentions, lender_states)
    counts = Counter(m.ref.id for m in mentions)
    lender_state = _state(by_id[story_lender]) if story_lender in by_id else None
    state_first = bool(lender_state) and counts[lender_state] >= 2 * counts[story_lender]
    prev_sentence: tuple[int, int] | None = None
    prev = None
    for f in finance:
        if f.equivalent_of is not None:
            continue
        s0, s1 = sentence_of(f.start)
        here = names_in(mentions, starts, s0, s1)
        states_here = {_state(m) for m in here if m.ref.type == "country"} - {None}
        if f.kind == "other" and (f.lender or f.recipient) and f.amount >= 10_000:
            # "Russia has handed over $100 million": money given; the headline may say of which kind
            f.kind = headline_kind or "financing"
        if f.kind == "other" and prev is not None and prev.kind in FLOW_KINDS and prev_sentence == (s0, s1) \
                and f.amount >= 10_000:
            f.kind = prev.kind  # "... $100 million, with another $250 million to be paid this year"
        if f.kind not in FLOW_KINDS:
            prev, prev_sentence = f, (s0, s1)
            continue
        wide = _WIDE.search(text, s0, s1) or any(m.ref.type == "region" and m.start >= f.end for m in here)
        if f.lender is None and story_lender and not any(
                m.ref.type == "org" and m.ref.kind in LENDER_ORG_KINDS and m.ref.id != story_lender for m in here):
            state = _state(by_id[story_lender]) if story_lender in by_id else None
            # the sentence names the lender's state ("Japan's largest ODA"), or the story names it more than
            # its agency: the state
            f.lender = state if state and (state in states_here or state_first) else story_lender
        if f.recipient is None and not wide:
            own = states_here - lender_states - {_state(by_id[f.lender]) if f.lender in by_id else f.lender}
            before = _previous_subject(text, s0, mentions, sentence_of, lender_states)
            if _PRONOUN_START.match(text, s0) and before and not own:
                f.recipient = before  # "Tajikistan ... . It owes China about $1.2 billion"
            elif len(own) == 1:
                f.recipient = own.pop()
            elif recipient and (not own or recipient in own):
                f.recipient = recipient
        own_state = f.lender if f.lender and len(f.lender) == 2 else None
        if f.recipient and f.recipient == own_state:
            f.recipient = None  # a state's own money: no recipient
        if own_state and own_state == recipient and f.kind in ("grant", "loan"):
            f.kind = "financing"  # the government's own co-financing of a project at home
        prev, prev_sentence = f, (s0, s1)
    flows = [f for f in finance if f.kind in FLOW_KINDS and f.equivalent_of is None and f.repeat_of is None]
    for f in flows:
        s0, s1 = sentence_of(f.start)
        here = names_in(mentions, starts, s0, s1)
        if _OWN_BUDGET.search(text, s0, s1) and not any(
                (m.ref.type == "org" and m.ref.kind in LENDER_ORG_KINDS) or _state(m) in lender_states for m in here):
            f.recipient, f.kind = None, "financing" if f.kind in ("grant", "loan", "aid") else f.kind
            if f.lender and len(f.lender) != 2:
                f.lender = None  # a foreign investor named elsewhere in the story does not fund the budget
        cue = _TOTAL_CUE.search(text, max(s0, f.start - 60), min(s1, f.end + 30))
        if cue and f.kind != "debt" and any(o is not f and o.usd and f.usd and o.usd < f.usd for o in flows):
            f.aggregate = True
    for f in finance:
        if f.equivalent_of is not None:
            src = finance[f.equivalent_of]
            f.kind, f.lender, f.recipient, f.aggregate = src.kind, src.lender, src.recipient, src.aggregate
