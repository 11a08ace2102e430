"""natasha's models for Russian news: sentences and tokens (razdel), morphology, syntax and NER (PER/LOC/ORG).

The models ship in the natasha wheel (no download at run time) and take about a second to load: they are loaded
once per process, on the first Russian story (:func:`models`), never for a process that only sees English.

A story is analysed line by line (trafilatura puts each paragraph on its own line, and the headline has no full
stop): no sentence or name runs from one paragraph into the next. Offsets are into the text given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from . import morph

NER_LABELS = {"PER": "PER", "ORG": "ORG", "LOC": "LOC"}


@dataclass
class Token:
    start: int
    end: int
    text: str
    pos: str = "X"
    feats: dict = field(default_factory=dict)
    head: int = -1  # index of the syntactic head in ``RuDoc.tokens`` (-1: the root of its sentence)
    rel: str = ""
    sent: int = 0

    @property
    def case(self) -> str | None:
        return self.feats.get("Case")

    @property
    def lemma(self) -> str:
        """The lemma as the tagger read the word in its sentence."""
        return morph.lemma_as(self.text, self.pos)


@dataclass
class Span:
    """A name found by natasha's NER: character offsets, label (PER, ORG, LOC), text and nominative form."""

    start: int
    end: int
    label: str
    text: str
    normal: str
    tokens: tuple[int, int] = (0, 0)  # [first, last + 1) in ``RuDoc.tokens``


@dataclass
class RuDoc:
    text: str
    tokens: list[Token]
    sents: list[tuple[int, int, int, int]]  # (start, end, first token, last token + 1)
    spans: list[Span]

    def sent_of(self, pos: int) -> int:
        """Index of the sentence holding character ``pos`` (the nearest one before it otherwise)."""
        from bisect import bisect_right

        starts = self._starts
        return max(0, bisect_right(starts, pos) - 1)

    @property
    def _starts(self) -> list[int]:
        got = self.__dict__.get("_starts_cache")
        if got is None:
            got = self.__dict__["_starts_cache"] = [s[0] for s in self.sents]
        return got

    def children(self, i: int) -> list[int]:
        kids = self.__dict__.get("_kids")
        if kids is None:
            kids = self.__dict__["_kids"] = [[] for _ in self.tokens]
            for k, t in enumerate(self.tokens):
                if t.head >= 0:
                    kids[t.head].append(k)
        return kids[i]


@lru_cache(maxsize=1)
def models():
    """(morphology tagger, syntax parser, NER tagger, vocabulary) — loaded once per process."""
    from natasha import NewsEmbedding, NewsMorphTagger, NewsNERTagger, NewsSyntaxParser

    from .._blas import one_thread

    one_thread()
    emb = NewsEmbedding()
    return NewsMorphTagger(emb), NewsSyntaxParser(emb), NewsNERTagger(emb), morph.Vocab()


_LINE = re.compile(r"[^\n]+")


def analyze(text: str) -> RuDoc:
    """Tokens with morphology and syntax, sentences and NER spans of ``text``."""
    from razdel import sentenize, tokenize

    tagger, parser, ner, vocab = models()
    tokens: list[Token] = []
    sents: list[tuple[int, int, int, int]] = []
    words: list[list[str]] = []
    lines: list[tuple[int, str]] = []
    for line in _LINE.finditer(text):
        if not line.group().strip():
            continue
        base = line.start()
        lines.append((base, line.group()))
        for s in sentenize(line.group()):
            first = len(tokens)
            for t in tokenize(s.text):
                start = base + s.start + t.start
                tokens.append(Token(start, start + len(t.text), t.text, sent=len(sents)))
            if len(tokens) > first:
                sents.append((base + s.start, base + s.stop, first, len(tokens)))
                words.append([t.text for t in tokens[first:]])
    if words:
        for (s0, _s1, first, _last), markup in zip(sents, tagger.map(words)):
            for tok, m in zip(tokens[first:], markup.tokens):
                tok.pos, tok.feats = m.pos, m.feats
        for (s0, _s1, first, _last), markup in zip(sents, parser.map(words)):
            ids = {m.id: k for k, m in enumerate(markup.tokens)}
            for k, (tok, m) in enumerate(zip(tokens[first:], markup.tokens)):
                head = ids.get(m.head_id)
                tok.head = first + head if head is not None and head != k else -1
                tok.rel = m.rel
    spans: list[Span] = []
    starts = [t.start for t in tokens]
    from bisect import bisect_left

    for (base, line), markup in zip(lines, ner.map([ln for _, ln in lines])):
        for sp in markup.spans:
            start, end = base + sp.start, base + sp.stop
            t0, t1 = bisect_left(starts, start), bisect_left(starts, end)
            spans.append(Span(start, end, NER_LABELS.get(sp.type, "MISC"), text[start:end], "", (t0, t1)))
    for sp in spans:
        sp.normal = _normalize(vocab, tokens[sp.tokens[0]:sp.tokens[1]], sp.tokens[0], sp.label) or sp.text
    return RuDoc(text, tokens, sents, spans)


def _normalize(vocab, toks: list[Token], t0: int, label: str) -> str:
    """The span in the nominative (natasha's normaliser: «Саудовского фонда развития» -> «Саудовский фонд
    развития»; for organisations only the head and the words that agree with it are inflected)."""
    from natasha.norm import normalize, syntax_normalize

    if not toks:
        return ""
    proxies = [_NToken(t, t0 + k, t0, len(toks)) for k, t in enumerate(toks)]
    return (syntax_normalize if label == "ORG" else normalize)(vocab, proxies)


class _NToken:
    """What natasha's normaliser reads of a token (head ids within the span; a head outside it: a root)."""

    __slots__ = ("text", "start", "stop", "pos", "feats", "id", "head_id")

    def __init__(self, t: Token, i: int, t0: int, n: int):
        self.text, self.start, self.stop, self.pos, self.feats = t.text, t.start, t.end, t.pos, t.feats
        self.id = i
        self.head_id = t.head if t0 <= t.head < t0 + n else None
