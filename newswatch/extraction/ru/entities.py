"""Entity mentions in a Russian text: the Russian gazetteer matched on lemmas, and natasha's NER spans.

:func:`gazetteer_mentions` gives :class:`~newswatch.extraction.entities.Mention` objects with the English
gazetteer's ids; :func:`ner_spans` gives natasha's names (PER/ORG/LOC) with their nominative form and a key of
lemmas, from which a name no gazetteer knows gets one id whatever its case form.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..entities import Mention
from . import morph
from .gazetteer import ANY, END, PROPER, load, token_keys
from .nlp import RuDoc

# a country adjective before a currency («японских йен», «российских рублей») names the money, not the state;
# so does «США» after «доллар» («долларов США»)
CURRENCY_LEMMAS = frozenset({"доллар", "долл", "рубль", "руб", "юань", "иена", "йена", "евро", "тенге", "сом",
                             "сомони", "сум", "манат", "вона", "рупия", "лира", "фунт", "франк", "дирхам", "риял"})


@dataclass
class NerSpan:
    """A name natasha's NER found: offsets, label (PER, ORG, LOC), the text, its nominative form and a key that is
    the same for every case form of the name (its lemmas)."""

    start: int
    end: int
    label: str
    text: str
    normal: str
    lemma: str


def gazetteer_mentions(doc: RuDoc) -> list[Mention]:
    """Longest gazetteer matches over the tokens of ``doc`` (within a sentence)."""
    g = load()
    toks = doc.tokens
    n = len(toks)
    keys = [token_keys(t.text) for t in toks]
    out: list[Mention] = []
    i = 0
    while i < n:
        frontier = [g.trie[k] for k in keys[i] if k in g.trie]
        best = None
        j = i
        while frontier:
            for node in frontier:
                for ref, mode in node.get(END, ()):
                    if _allowed(toks[i].text, mode):
                        if best is None or best[0] < j:
                            best = (j, ref)
                        break
            j += 1
            if j >= n or toks[j].sent != toks[i].sent:
                break
            frontier = [node[k] for node in frontier for k in keys[j] if k in node]
        if best is None:
            i += 1
            continue
        last, ref = best
        start, end = toks[i].start, toks[last].end
        if not _names_money(doc, i, last, ref):
            out.append(Mention(start, end, doc.text[start:end], ref))
        i = last + 1
    return out


def _allowed(word: str, mode: str) -> bool:
    return mode == ANY or (mode == PROPER and word[:1].isupper())


def _names_money(doc: RuDoc, i: int, last: int, ref) -> bool:
    """«японских йен», «долларов США»: the country word belongs to the name of a currency."""
    if ref.type != "country":
        return False
    toks = doc.tokens
    nxt = toks[last + 1] if last + 1 < len(toks) and toks[last + 1].sent == toks[i].sent else None
    prev = toks[i - 1] if i > 0 and toks[i - 1].sent == toks[i].sent else None
    if nxt is not None and toks[i].pos == "ADJ" and morph.lemmas(nxt.text) & CURRENCY_LEMMAS:
        return True
    if prev is not None and ref.id == "US" and morph.lemmas(prev.text.rstrip(".")) & CURRENCY_LEMMAS:
        return True
    return False


def ner_spans(doc: RuDoc) -> list[NerSpan]:
    """natasha's names with their nominative form and lemma key."""
    out = []
    for sp in doc.spans:
        words = doc.tokens[sp.tokens[0]:sp.tokens[1]]
        key = " ".join(morph.lemma_as(t.text, t.pos) if not t.text.isupper() else t.text for t in words
                       if t.pos != "PUNCT")
        out.append(NerSpan(sp.start, sp.end, sp.label, sp.text, sp.normal, key))
    return out


def find_mentions(text: str, doc: RuDoc) -> list[Mention]:
    """Every entity mention of the Russian ``text`` (analysed as ``doc``), sorted by position: the Russian
    gazetteer's, and what the English matcher finds in the text's Latin-script names (TBEA, Qazaq Camel)."""
    from ..entities import _Spans
    from ..entities import find_mentions as latin_mentions

    mentions = gazetteer_mentions(doc)
    taken = _Spans((m.start, m.end) for m in mentions)
    for m in latin_mentions(text):
        if not _has_cyrillic(m.surface) and not taken.overlaps(m.start, m.end):
            mentions.append(m)
            taken.add(m.start, m.end)
    mentions.sort(key=lambda m: m.start)
    return mentions


def _has_cyrillic(s: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in s)
