"""Finance facts of a Russian story: the amounts of :mod:`.money`, their kind of flow from Russian words, and lender
and recipient from the sentence's structure (natasha's morphology and syntax):

* recipient: the dative party («Китай выделит Кыргызстану», «Республике Таджикистан выделено»), «для
  Таджикистана», the subject of a verb of getting («Т330 млрд займет Казахстан»), the debtor of a debt;
* lender: «со стороны X», «за счёт (средств) X», «от X», «у X» after a verb of getting, the genitive of a flow
  noun («кредита АБР»), the instrumental agent of a verb of giving («выделено Саудовским фондом»), the subject
  of a verb of giving («JICA выделит грант», «Правительство КНР предоставит»), the creditor of a debt («долг
  Китаю»); two lenders sharing one figure («у АБР и ЕБРР») give none.

Then the rules the English side has: a lender and one other country in the sentence make it the recipient, one
development bank or donor in a sentence without a flow word puts up the sum; and a flow whose sentence names no
recipient goes to the story's recipient. The words are data (``newswatch/data/lexicons/ru.yaml``).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from ..entities import Mention
from . import morph
from .money import LEXICON, RawMention, find_money
from .nlp import RuDoc

FLOW_KINDS = {"loan", "grant", "aid", "investment", "financing", "debt"}
LENDER_KINDS = {"lender", "union", "aid", "multilateral", "central-bank", "bank", "fund", "company", "party",
                "initiative", "government"}
PRIORITY = {"not_flow": -1, "loan": 0, "grant": 1, "aid": 2, "debt": 3, "reserves": 4, "market": 5, "trade": 6,
            "investment": 7, "financing": 8, "investment_weak": 9}
PENALTY = {"financing": 15, "investment_weak": 40, "not_flow": -30}  # characters: generic words count as farther
# away; a gap or a loss («нехватка средств в бюджете достигала ...») as nearer than the budget words around it


@dataclass
class FactLexicon:
    kinds: dict[str, str]
    kind_modifiers: dict[str, str]
    kind_after: re.Pattern
    give_verbs: frozenset[str]
    receive_verbs: frozenset[str]
    lender_before: re.Pattern
    recipient_before: re.Pattern
    not_party_prepositions: frozenset[str]
    clause_break: re.Pattern
    institution_nouns: frozenset[str]
    borrow_verbs: frozenset[str]
    not_flows: frozenset[str]
    equivalent_gap: re.Pattern
    part_of: re.Pattern


def _phrases(words: list[str], tail: str) -> re.Pattern:
    alts = "|".join(r"\s+".join(re.escape(w).replace("е", "[её]") for w in p.split())
                    for p in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:^|(?<=[\s(«\"]))(?:{alts}){tail}", re.I)


@lru_cache(maxsize=1)
def lexicon() -> FactLexicon:
    import yaml

    data = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    norm = morph.normal
    kinds = {norm(w): kind for kind, words in data["kinds"].items() for w in words}

    def words(key: str) -> frozenset[str]:
        return frozenset(norm(w) for w in data[key])

    gaps = "|".join(r"\s*".join(map(re.escape, g.split())) for g in sorted(data["equivalent_gaps"], key=len,
                                                                          reverse=True))
    conj = "|".join(r"\s+".join(map(re.escape, c.split())) for c in sorted(data["clause_conjunctions"], key=len,
                                                                           reverse=True))
    return FactLexicon(
        kinds=kinds,
        kind_modifiers={norm(k): v for k, v in data["kind_modifiers"].items()},
        kind_after=_phrases(data["kind_after"], r"\s+$"),
        give_verbs=words("give_verbs"),
        receive_verbs=words("receive_verbs"),
        lender_before=_phrases(data["lender_before"], r"\s*$"),
        recipient_before=_phrases(data["recipient_before"], r"\s*$"),
        not_party_prepositions=words("not_party_prepositions"),
        clause_break=re.compile(rf";\s+|,\s+(?:{conj})\s+|\s+—\s+(?=[^\W\d_])|,\s+(?=[$€£¥₽₸]|\d)"),
        institution_nouns=words("institution_nouns"),
        borrow_verbs=words("borrow_verbs"),
        not_flows=words("not_flows"),
        equivalent_gap=re.compile(rf"^\s*(?:{gaps})\s*$", re.I),
        part_of=re.compile("|".join(r"\s+".join(map(re.escape, w.split())) for w in data["part_of"]), re.I),
    )


class _Story:
    """One story's tokens, parties and flow words, computed once for all its amounts."""

    def __init__(self, text: str, doc: RuDoc, mentions: list[Mention], lx: FactLexicon):
        self.text, self.doc, self.lx = text, doc, lx
        self.starts = [t.start for t in doc.tokens]
        self.parties = [m for m in mentions if m.ref.type in ("country", "org")]
        self.party_tokens = [self._range(m.start, m.end) for m in self.parties]
        names = [self._range(m.start, m.end) for m in mentions if m.ref.type in ("org", "person")]
        masked = set()
        for a, b in names:
            masked.update(range(a, b))
        for sp in doc.spans:  # natasha's organisations: «Министерства инвестиций и внешней торговли»
            if sp.label == "ORG":
                masked.update(range(*sp.tokens))
        self.kind_of: dict[int, str] = {}
        toks = doc.tokens
        for k, t in enumerate(toks):
            if k in masked or not t.text[:1].isalpha():
                continue
            lems = morph.lemmas(t.text)
            if lems & lx.not_flows:
                self.kind_of[k] = "not_flow"
                continue
            if lems & lx.borrow_verbs and t.pos == "VERB" and self._lends_with_u(k):
                self.kind_of[k] = "loan"
                continue
            kind = next((lx.kinds[w] for w in sorted(lems) if w in lx.kinds), None)
            if kind is None:
                continue
            if t.head >= 0 and t.rel == "nmod" and morph.lemmas(toks[t.head].text) & lx.institution_nouns:
                continue  # «министр инвестиций»
            for c in doc.children(k):  # «безвозмездная помощь», «льготный кредит»
                mod = next((lx.kind_modifiers[w] for w in morph.lemmas(toks[c].text) if w in lx.kind_modifiers), None)
                if mod is not None and toks[c].rel == "amod":
                    kind = mod
            self.kind_of[k] = kind

    def _lends_with_u(self, k: int) -> bool:
        """«у» and a party in the sentence of token k: who lends to the subject of a verb of borrowing."""
        toks = self.doc.tokens
        si = toks[k].sent
        _s0, _s1, a, b = self.doc.sents[si]
        us = [j for j in range(a, b) if morph.normal(toks[j].text) == "у"]
        return any(x in (j + 1, j + 2, j + 3) for j in us for x, _y in self.party_tokens)

    def _range(self, start: int, end: int) -> tuple[int, int]:
        return bisect_left(self.starts, start), bisect_left(self.starts, end)

    def lemmas(self, k: int) -> frozenset[str]:
        return morph.lemmas(self.doc.tokens[k].text)

    def head_of(self, a: int, b: int) -> int:
        """The token of [a, b) whose syntactic head lies outside it."""
        toks = self.doc.tokens
        for k in range(a, b):
            if not a <= toks[k].head < b:
                return k
        return max(a, b - 1)


def find_finance(text: str, mentions: list[Mention], doc: RuDoc, *, published: date | None = None,
                 site: str | None = None):
    """Finance mentions (schema objects) of the Russian ``text`` (analysed as ``doc``, with entity ``mentions``)."""
    from ...schemas.story import FinanceMention
    from ..usd import to_usd

    raws = find_money(text)
    if not raws:
        return []
    lx = lexicon()
    story = _Story(text, doc, mentions, lx)
    facts = []
    for raw in raws:
        primary = facts[-1] if facts and _equivalent(story, facts[-1][0], raw) else None
        if primary is not None:  # the same sum in another currency: the same flow
            facts.append([raw, *primary[1:4], primary[4]])
            facts[-1][0] = raw
            continue
        kind, lender, recipient, sentence = _fact(story, raw)
        facts.append([raw, kind, lender, recipient, sentence])
    facts = [f for f in facts if f[1] != "not_flow"]
    _story_recipient(story, facts)
    refs = {m.ref.id: m.ref for m in mentions if m.ref.type == "org"}
    out = []
    for raw, kind, lender, recipient, sentence in facts:
        cur = resolve_currency(raw, text, site, mentions)
        usd, note = to_usd(raw.amount, cur, published)
        ref = refs.get(lender)  # an organisation only the Russian gazetteer knows: its English name and state
        out.append(FinanceMention(
            text=raw.text, amount=raw.amount, amount_max=raw.amount_max, currency=cur, usd=usd, usd_note=note,
            approx=raw.approx, kind=kind, lender=lender, recipient=recipient, sentence=sentence[:1000],
            start=raw.start, end=raw.end, lender_name=ref.name if ref else None,
            lender_country=ref.country if ref else None))
    return out


def _equivalent(story: _Story, prev: RawMention, raw: RawMention) -> bool:
    """«250 млн юаней ($37,5 млн)», «(около 190 млн сомов или $2,4 млн)»: ``raw`` restates ``prev``."""
    gap = story.text[prev.end:raw.start]
    if not story.lx.equivalent_gap.match(gap):
        return False
    if "(" not in gap:  # «или $2,4 млн» only inside the parentheses that follow an amount
        opened = story.text.rfind("(", 0, prev.start)
        return opened >= 0 and story.text.find(")", opened, prev.start) < 0 and prev.currency != raw.currency
    return prev.currency != raw.currency


def resolve_currency(raw: RawMention, text: str, site: str | None, mentions: list[Mention]) -> str:
    """A bare rouble is BYN on a Belarusian site or in a story about Belarus that does not name Russia; a bare
    manat is AZN in Azerbaijani news, TMT otherwise; ¥ as in English."""
    cur = raw.currency
    if not cur.endswith("?"):
        return cur
    count = Counter(m.ref.id if m.ref.type == "country" else m.ref.country for m in mentions)
    src = (site or "").lower()
    if cur == "RUB?":
        return "BYN" if src.endswith(".by") or (count["BY"] and not count["RU"]) else "RUB"
    if cur == "MANAT?":
        return "AZN" if src.endswith(".az") or count["AZ"] > count["TM"] else "TMT"
    from ..finance import _resolve_currency, source_context

    return _resolve_currency(cur, text, raw.start, raw.end, lambda: source_context(text, site, "ru", mentions))


def _fact(story: _Story, raw: RawMention):
    doc = story.doc
    si = doc.sent_of(raw.start)
    s0, s1, a, b = doc.sents[si]
    p, q = story._range(raw.start, raw.end)
    q = max(q, p + 1)
    sentence = story.text[s0:s1].strip()
    c0, c1, part = _clause(story, s0, s1, raw.start, raw.end)
    kind = lender = recipient = None
    for lo, hi in (((c0, c1), (a, b)) if (c0, c1) != (a, b) else ((a, b),)):
        k = _kind(story, lo, hi, p, q)
        if kind is not None:  # a part of the sentence's flow («..., включая грант в 1,6 млн»): its parties
            lend, recip = _parties(story, lo, hi, p, q, kind)
            lender, recipient = lender or lend, recipient or recip
            break
        lend, recip = _parties(story, lo, hi, p, q, k)
        if k == "other":  # no flow word, but a development bank or donor there puts up the sum
            funders = {m.ref.id for m, (x, y) in zip(story.parties, story.party_tokens)
                       if lo <= x < hi and m.ref.type == "org" and m.ref.kind in ("lender", "aid", "union")}
            if len(funders) == 1:
                k, lend = "financing", lend or next(iter(funders))
        kind, lender, recipient = kind or (k if k != "other" else None), lender or lend, recipient or recip
        if kind is not None and (lo, hi) != (a, b) and (not part or (lender and recipient)):
            break
    return kind or "other", lender, recipient, sentence


def _clause(story: _Story, s0: int, s1: int, start: int, end: int) -> tuple[int, int, bool]:
    """Token range of the clause of the sentence [s0, s1) that holds the amount, and whether that clause is a part
    of what the sentence says («включая», «в том числе», «из них»: its parties are the sentence's)."""
    c0, c1, part = s0, s1, False
    for m in story.lx.clause_break.finditer(story.text, s0, s1):
        if m.end() <= start:
            c0, part = m.end(), bool(story.lx.part_of.search(m.group()))
        elif m.start() >= end:
            c1 = m.start()
            break
    return (*story._range(c0, c1), part)


def _kind(story: _Story, lo: int, hi: int, p: int, q: int) -> str:
    """The nearest flow word of tokens [lo, hi) to the amount (tokens [p, q)); a word the amount depends on, or
    that follows it as «в виде кредита», counts as next to it; generic words count as farther away."""
    toks = story.doc.tokens
    text = story.text
    ancestors = set()
    k = story.head_of(p, q)
    for _ in range(2):
        k = toks[k].head
        if k < 0:
            break
        ancestors.add(k)
    best = None
    for k, kind in story.kind_of.items():
        if not lo <= k < hi or p <= k < q:
            continue
        if k < p:
            dist = toks[p].start - toks[k].end
        else:
            gap = text[toks[q - 1].end:toks[k].start]
            dist = -1 if story.lx.kind_after.search(gap) and len(gap) < 40 else toks[k].start - toks[q - 1].end
        if k in ancestors:
            dist = min(dist, 0)
        dist += PENALTY.get(kind, 0)
        cand = (dist, PRIORITY[kind], kind)
        if best is None or cand < best:
            best = cand
    if best is None:
        return "other"
    return "investment" if best[2] == "investment_weak" else best[2]


def _party_value(m: Mention) -> str | None:
    ref = m.ref
    if ref.type == "country":
        return ref.id
    if ref.kind == "party" and ref.country:
        return ref.country  # a ruling party acting for its state
    return ref.id


def _recipient_value(m: Mention) -> str | None:
    return m.ref.id if m.ref.type == "country" else m.ref.country


def _parties(story: _Story, lo: int, hi: int, p: int, q: int, kind: str):
    """(lender, recipient) of the amount at tokens [p, q) from the clause or sentence [lo, hi)."""
    doc, lx, text = story.doc, story.lx, story.text
    toks = doc.tokens
    verbs = [k for k in range(lo, hi) if toks[k].pos in ("VERB", "AUX") or story.lemmas(k) & lx.give_verbs]
    give = any(story.lemmas(k) & lx.give_verbs for k in verbs)
    receive = [k for k in verbs if story.lemmas(k) & lx.receive_verbs]
    inside = [(m, r) for m, r in zip(story.parties, story.party_tokens) if lo <= r[0] < hi and not p <= r[0] < q]
    lender = recipient = None
    lender_prio = recipient_prio = 99

    def set_lender(m, prio):
        nonlocal lender, lender_prio
        if prio < lender_prio:
            lender, lender_prio = m, prio

    def set_recipient(m, prio):
        nonlocal recipient, recipient_prio
        if prio < recipient_prio and _recipient_value(m):
            recipient, recipient_prio = m, prio

    # the verb the amount depends on, and a verb or participle that depends on it («$200 млн, выделенных Россией»)
    predicates = {_predicate(story, story.head_of(p, q))} | {
        c for k in range(p, q) for c in doc.children(k) if toks[c].pos == "VERB"}
    for m, (x, y) in inside:
        h = story.head_of(x, max(y, x + 1))
        tok = toks[h]
        before = text[max(0, toks[x].start - 30):toks[x].start]
        prep = _preposition(story, x, h)
        case = tok.case
        # a marked or case-marked party speaks of this amount only within its predicate («..., со стороны
        # Кыргызстана были выполнены мероприятия, в связи с чем АБР ... выделить $30 млн»)
        same = _predicate(story, h) in predicates
        if lx.lender_before.search(before):
            if (prep == "у" and not receive) or not same:
                continue
            if not _shared(story, inside, x, y):
                set_lender(m, 0)
            continue
        if lx.recipient_before.search(before):
            if same:
                set_recipient(m, 0)
            continue
        if prep in lx.not_party_prepositions:
            continue
        flow_head = _flow_head(story, h)
        if kind == "debt" and flow_head is not None:
            # «долг Киргизии», «списание Киргизии долга»: the debtor; «долг Китаю»: the creditor
            if case == "Dat" and story.kind_of.get(flow_head) == "debt" and \
                    story.lemmas(flow_head) & {"долг", "задолженность"}:
                set_lender(m, 1)
            elif case in ("Gen", "Dat"):
                set_recipient(m, 1)
            continue
        if case == "Dat" and prep is None and same and (give or flow_head is not None):
            set_recipient(m, 1)
            continue
        if case == "Gen" and flow_head is not None and prep is None and story.kind_of.get(flow_head) != "financing":
            if not _shared(story, inside, x, y):
                set_lender(m, 1)  # «кредита АБР», «гранта Японии»
            continue
        if case == "Ins" and prep is None and give and same:
            set_lender(m, 2)  # «выделено Саудовским фондом развития», «выделенных Россией»
            continue
        subject = _subject_of(story, h)
        if subject is not None:
            # «Китай может предоставить»: the verb and the infinitive it governs
            verb_lemmas = story.lemmas(subject).union(*(story.lemmas(c) for c in doc.children(subject)
                                                        if toks[c].rel == "xcomp"))
            if verb_lemmas & lx.receive_verbs:
                set_recipient(m, 2)
            elif verb_lemmas & lx.give_verbs and not _shared(story, inside, x, y):
                set_lender(m, 3)
        elif case == "Nom" and receive and h > p:
            set_recipient(m, 3)  # «Т330 млрд займет Казахстан»: the subject after the verb
    lend = _party_value(lender) if lender is not None else None
    if lender is not None and lender.ref.type == "org" and lender.ref.kind not in LENDER_KINDS:
        lend = None
    recip = _recipient_value(recipient) if recipient is not None else None
    if lend is None and kind in FLOW_KINDS:
        funders = {m.ref.id for m, _r in inside if m.ref.type == "org" and m.ref.kind in ("lender", "union", "aid")}
        if len(funders) == 1:
            lend = next(iter(funders))
    if recip is None and kind in FLOW_KINDS and lend is not None:
        # a lender and exactly one other country in the sentence: that country gets the money
        lender_country = next((m.ref.country for m, _r in inside if _party_value(m) == lend), lend)
        others = {m.ref.id for m, _r in inside if m.ref.type == "country" and m.ref.id not in (lend, lender_country)}
        if len(others) == 1:
            recip = others.pop()
    if recip is not None and recip == lend:
        recip = None
    return lend, recip


def _predicate(story: _Story, k: int) -> int:
    """The verb token k depends on (through nouns, adjectives, numbers), or the root of its sentence."""
    toks = story.doc.tokens
    for _ in range(8):
        t = toks[k]
        if t.head < 0:
            return k
        k = t.head
        if toks[k].pos in ("VERB", "AUX"):
            return k
    return k


def _preposition(story: _Story, x: int, h: int) -> str | None:
    """The preposition that governs the party (first token x, head token h): a «case» dependent of its head, or
    the word right before it."""
    toks = story.doc.tokens
    for c in story.doc.children(h):
        if toks[c].rel == "case" and c < h:
            return morph.normal(toks[c].text)
    if x > 0 and toks[x - 1].pos == "ADP" and toks[x - 1].sent == toks[x].sent:
        return morph.normal(toks[x - 1].text)
    return None


def _flow_head(story: _Story, h: int) -> int | None:
    """The flow word the party's token h depends on (directly, or through one nominal), if any."""
    toks = story.doc.tokens
    k = h
    for _ in range(2):
        k = toks[k].head
        if k < 0:
            return None
        if k in story.kind_of:
            return k
        if toks[k].pos not in ("NOUN", "PROPN"):
            return None
    return None


def _subject_of(story: _Story, h: int) -> int | None:
    """The verb whose subject holds the party's token h («Правительство КНР предоставит»: КНР -> предоставит)."""
    toks = story.doc.tokens
    k = h
    for _ in range(3):
        t = toks[k]
        if t.rel.startswith("nsubj") and t.head >= 0:
            return t.head
        if t.rel not in ("nmod", "appos", "flat", "flat:name", "flat:foreign", "amod", "conj") or t.head < 0:
            return None
        k = t.head
    return None


def _shared(story: _Story, inside, x: int, y: int) -> bool:
    """The party shares its role with another party joined to it by «и» («у АБР и ЕБРР»)."""
    toks = story.doc.tokens
    h = story.head_of(x, max(y, x + 1))
    others = [story.head_of(a, max(b, a + 1)) for _m, (a, b) in inside if (a, b) != (x, y)]
    for o in others:
        if (toks[o].rel == "conj" and toks[o].head == h) or (toks[h].rel == "conj" and toks[h].head == o):
            return True
    return False


def _story_recipient(story: _Story, facts: list) -> None:
    """A flow whose sentence names no recipient goes to the story's: the recipient most of its amounts name, else
    the country the story names most (not the flow's own lender, nor its lender's country)."""
    named = Counter(f[3] for f in facts if f[3])
    countries = Counter(m.ref.id for m in story.parties if m.ref.type == "country")
    org_country = {m.ref.id: m.ref.country for m in story.parties if m.ref.type == "org"}
    for f in facts:
        if f[3] is not None or f[1] not in FLOW_KINDS:
            continue
        lender = f[2]
        excluded = {lender, org_country.get(lender)}
        if named:
            default = next((c for c, _n in named.most_common() if c not in excluded), None)
        else:
            ranked = [(c, n) for c, n in countries.most_common() if c not in excluded][:2]
            default = ranked[0][0] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
        f[3] = default
