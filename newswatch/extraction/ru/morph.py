"""Russian morphology: pymorphy3 lemmas, loaded once per process on first use (about 0.1 s).

A word of a text can have several readings («сома»: the currency in the genitive, or «сома» the drink), so the
lookups here work with the *set* of its lemmas; a gazetteer entry is keyed by the lemma of each of its words,
and matches wherever a word of the text has that lemma among its readings.
"""
from __future__ import annotations

from functools import lru_cache

_ACCENTS = {0x0301: None, 0x0300: None}  # stress marks of dictionary-style text («Кыргызста́н»)


@lru_cache(maxsize=1)
def analyzer():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def normal(word: str) -> str:
    """Lower case, «ё» as «е», no stress marks: how lemmas are compared."""
    if not word.isascii():
        word = word.translate(_ACCENTS)
        if "ё" in word or "Ё" in word:
            word = word.replace("ё", "е").replace("Ё", "Е")
    return word.lower()


@lru_cache(maxsize=200_000)
def lemmas(word: str) -> frozenset[str]:
    """Every lemma of ``word`` (normalised), the word itself included (abbreviations, foreign names)."""
    w = normal(word)
    if not _has_cyrillic(w):
        return frozenset((w,))
    return frozenset({w, *(normal(p.normal_form) for p in analyzer().parse(w))})


_NOMINAL = frozenset({"NOUN", "ADJF", "PRTF", "NUMR", None})  # None: words pymorphy cannot tag


@lru_cache(maxsize=200_000)
def name_lemmas(word: str) -> frozenset[str]:
    """The lemmas of ``word`` read as a noun or an adjective (names are never verbs: «Дели» is not «деть»), the
    word itself included."""
    w = normal(word)
    if not _has_cyrillic(w):
        return frozenset((w,))
    return frozenset({w, *(normal(p.normal_form) for p in analyzer().parse(w) if p.tag.POS in _NOMINAL)})


@lru_cache(maxsize=50_000)
def entry_lemmas(word: str) -> frozenset[str]:
    """The keys of a word of a name written in the nominative: the word and the lemmas of its nominal readings in
    the nominative («Жапаров»: жапаров; not «жапар», whose genitive plural it also is)."""
    w = normal(word)
    if not _has_cyrillic(w):
        return frozenset((w,))
    nominative = [p for p in analyzer().parse(w) if p.tag.POS in _NOMINAL and p.tag.case in ("nomn", None)]
    # the word itself too: a name that is no nominative of anything («Семей», «Баку») is only itself
    return frozenset({w, *(normal(p.normal_form) for p in nominative)})


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The most likely lemma of ``word`` out of context (what gazetteer entries are keyed by)."""
    w = normal(word)
    if not _has_cyrillic(w):
        return w
    parses = analyzer().parse(w)
    return normal(parses[0].normal_form) if parses else w


@lru_cache(maxsize=50_000)
def lemma_as(word: str, pos: str) -> str:
    """The lemma of ``word`` read as part of speech ``pos`` (a natasha/UD tag: NOUN, PROPN, ADJ, VERB...), as the
    tagger saw it in its sentence; the most likely one where no reading has that part of speech."""
    w = normal(word)
    if not _has_cyrillic(w):
        return w
    want = _UD_OC.get(pos)
    parses = analyzer().parse(w)
    for p in parses:
        if want and p.tag.POS in want:
            return normal(p.normal_form)
    return normal(parses[0].normal_form) if parses else w


def _has_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)


_UD_OC = {"NOUN": {"NOUN"}, "PROPN": {"NOUN"}, "ADJ": {"ADJF", "ADJS"}, "VERB": {"VERB", "INFN", "PRTF", "PRTS", "GRND"},
          "NUM": {"NUMR"}, "ADV": {"ADVB"}, "PRON": {"NPRO"}, "ADP": {"PREP"}, "DET": {"ADJF", "NPRO"}}


class Vocab:
    """pymorphy3 with the interface natasha's ``span.normalize`` expects of its ``MorphVocab`` (which wraps
    pymorphy2): one Russian dictionary in memory, not two."""

    def __init__(self):
        from natasha.morph.vocab import OC_UD_INDEX, UD_OC_FEATS, OC_UD_POS

        self._index, self._feats, self._pos = OC_UD_INDEX, UD_OC_FEATS, OC_UD_POS

    @lru_cache(maxsize=20_000)
    def __call__(self, word: str):
        return [_Form(p, self) for p in analyzer().parse(word)]

    parse = __call__


class _Form:
    """One reading of a word, as natasha's ``MorphForm``: ``pos``, ``feats`` (UD names) and ``inflect``."""

    __slots__ = ("_p", "_v", "word", "normal", "pos", "feats")

    def __init__(self, parse, vocab: Vocab):
        self._p, self._v = parse, vocab
        self.word = parse.word
        self.normal = parse.normal_form
        self.pos = vocab._pos.get(parse.tag.POS, "X")
        self.feats = dict(vocab._index[g] for g in parse.tag._grammemes_tuple if g in vocab._index)

    def inflect(self, grams):
        got = self._p.inflect({self._v._feats[g] for g in grams})
        return _Form(got, self._v) if got is not None else None
