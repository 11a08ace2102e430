"""Money as Russian writes it: «$100 млн», «1 млрд юаней», «13 млрд сомов», «1 млрд 700 млн долларов», «$7,9 млн»,
«120,9 миллиона долларов», «500 тыс. тенге», «три миллиарда долларов», «полмиллиарда евро», «сотни миллионов
долларов», ranges («50–60 миллионов долларов», «от 50 до 60 млн»), hedges (около, порядка, более, свыше, до,
почти, оценивается в) and every currency in every case form (pymorphy3 lemmas: «сомов», «сома» -> сом).

Pure functions: text in, :class:`RawMention` out. Only a figure written with a currency is money; tonnes, doses,
percentages, populations and years have none. Exchange rates («1 USD = 10,9 сомони», «87 сомов за доллар»),
tickers («USD 87.45»), unit prices («$80 за баррель») and small sums without a scale word are not finance
mentions. The words are data (``newswatch/data/lexicons/ru.yaml``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from ..money import RawMention  # currency: an ISO 4217 code, or "RUB?" / "MANAT?" / "JPY?" for the context to decide
from . import morph

LEXICON = Path(__file__).resolve().parent.parent.parent / "data" / "lexicons" / "ru.yaml"


@dataclass(eq=False)  # one per process, hashed by identity
class MoneyLexicon:
    currencies: dict[str, str]
    currency_adjectives: dict[str, dict[str, str]]
    currency_tails: frozenset[str]
    symbols: dict[str, str]
    codes: frozenset[str]
    letter_prefixes: dict[str, str]
    scales: dict[str, float]
    half_scales: dict[str, float]
    numbers: dict[str, float]
    vague: dict[str, float]
    hedges: re.Pattern
    unit_after: frozenset[str]
    periods_after: frozenset[str]
    per_head_after: frozenset[str]
    rate_before: frozenset[str]
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def lexicon() -> MoneyLexicon:
    import yaml

    data = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    hedges = sorted(data["hedges"], key=len, reverse=True)
    hedge_rx = re.compile(r"(?:^|(?<=[\s(«\"“—–-]))(?P<h>" + "|".join(
        r"\s+".join(re.escape(w) for w in h.split()) for h in hedges) + r")\s*$", re.I)
    return MoneyLexicon(
        currencies=dict(data["currencies"]),
        currency_adjectives={k: dict(v) for k, v in data["currency_adjectives"].items()},
        currency_tails=frozenset(data["currency_tails"]),
        symbols=dict(data["symbols"]),
        codes=frozenset(data["codes"]),
        letter_prefixes=dict(data["letter_prefixes"]),
        scales={k: float(v) for k, v in data["scales"].items()},
        half_scales={k: float(v) for k, v in data["half_scales"].items()},
        numbers={k: float(v) for k, v in data["numbers"].items()},
        vague={k: float(v) for k, v in data["vague"].items()},
        hedges=hedge_rx,
        unit_after=frozenset(data["unit_after"]),
        periods_after=frozenset(data["periods_after"]),
        per_head_after=frozenset(data["per_head_after"]),
        rate_before=frozenset(data["rate_before"]),
        extra={k: v for k, v in data.items() if k not in MoneyLexicon.__dataclass_fields__},
    )


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\S")
_SPACE = frozenset(" \u00a0\u202f\u2009")
_GROUP = re.compile(r"\d{3}(?:,\d+)?")
_THOUSANDS = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})+")  # "1,690,000", "1.690.000"
_DECIMAL = re.compile(r"\d+(?:[.,]\d+)?")
_ABBREVIATIONS = frozenset({"тыс", "млн", "млрд", "трлн", "долл", "руб"})
_DASHES = frozenset({"-", "–", "—"})


class _Toks:
    """The tokens of a text, with their lemmas looked up on demand."""

    def __init__(self, text: str):
        self.text = text
        ms = list(_TOKEN.finditer(text))
        self.start = [m.start() for m in ms]
        self.end = [m.end() for m in ms]
        self.words = [m.group() for m in ms]
        self.n = len(ms)

    def lemmas(self, i: int) -> frozenset[str]:
        return morph.lemmas(self.words[i]) if 0 <= i < self.n and self.words[i][:1].isalpha() else frozenset()

    def gap(self, i: int) -> str:
        """The text between token i-1 and token i."""
        return self.text[self.end[i - 1]:self.start[i]] if 0 < i < self.n else ""

    def glued(self, i: int) -> bool:
        return 0 < i < self.n and self.end[i - 1] == self.start[i]

    def spaced(self, i: int) -> bool:
        """Token i follows token i-1 after nothing but spaces (no line break)."""
        g = self.gap(i)
        return 0 < i < self.n and all(c in _SPACE for c in g) and len(g) <= 2


def _number(s: str) -> Decimal | None:
    if _THOUSANDS.fullmatch(s):
        return Decimal(re.sub(r"[.,]", "", s))
    if _DECIMAL.fullmatch(s):
        try:
            return Decimal(s.replace(",", "."))
        except InvalidOperation:
            return None
    return None


# ---------------------------------------------------------------- the grammar


@dataclass
class _Value:
    amount: Decimal
    scaled: bool  # a scale word was written (млн, миллиардов...)
    decimal: bool  # the number had a fractional part
    vague: bool
    end: int  # index of the token after the value


def _scale(t: _Toks, i: int, lx: MoneyLexicon) -> tuple[float, int] | None:
    """A scale word at token i: (factor, index after it, a full stop of an abbreviation included)."""
    if i >= t.n:
        return None
    word = t.words[i].lower()
    if word in _ABBREVIATIONS and word in lx.scales:
        j = i + 1
        if j < t.n and t.words[j] == "." and t.glued(j):
            j += 1
        return lx.scales[word], j
    for lem in t.lemmas(i):
        if lem in lx.scales and lem not in _ABBREVIATIONS:
            return lx.scales[lem], i + 1
    return None


def _digits(t: _Toks, i: int) -> tuple[Decimal, bool, int] | None:
    """A number written in digits at token i, with space-separated thousands ("100 000", "12 650,00")."""
    if i >= t.n or not t.words[i][:1].isdigit():
        return None
    s, j = t.words[i], i + 1
    if len(s) <= 3 and s.isdigit():
        while j < t.n and t.spaced(j) and _GROUP.fullmatch(t.words[j]) and t.gap(j) != "  ":
            s += t.words[j]
            j += 1
            if "," in s:
                break
    value = _number(s)
    if value is None:
        return None
    return value, ("," in s or "." in s) and not _THOUSANDS.fullmatch(s), j


def _value(t: _Toks, i: int, lx: MoneyLexicon) -> _Value | None:
    """An amount at token i: digits or number words, a scale word, compounds («1 млрд 700 млн»)."""
    if i >= t.n:
        return None
    d = _digits(t, i)
    if d is not None:
        amount, decimal, j = d
        sc = _scale(t, j, lx) if j < t.n and t.spaced(j) else None
        if sc is None:
            return _Value(amount, False, decimal, False, j)
        total, last = amount * Decimal(int(sc[0])), sc[0]
        j = sc[1]
        while j < t.n and t.spaced(j):  # «1 млрд 700 млн», «10 млрд 99 млн»
            d2 = _digits(t, j)
            if d2 is None or d2[1]:
                break
            sc2 = _scale(t, d2[2], lx) if d2[2] < t.n and t.spaced(d2[2]) else None
            if sc2 is None or sc2[0] >= last:
                break
            total += d2[0] * Decimal(int(sc2[0]))
            last, j = sc2[0], sc2[1]
        return _Value(total, True, decimal, False, j)
    word = t.words[i].lower()
    lems = t.lemmas(i)
    half = next((lx.half_scales[w] for w in (word, *lems) if w in lx.half_scales), None)
    if half is not None:
        return _Value(Decimal(str(half)), True, False, False, i + 1)
    # number words: «три миллиарда», «двадцать пять миллионов», «полтора миллиарда»
    total, j = Decimal(0), i
    while j < t.n and (j == i or t.spaced(j)):
        v = next((lx.numbers[lem] for lem in t.lemmas(j) if lem in lx.numbers), None)
        if v is None:
            break
        total += Decimal(str(v))
        j += 1
    if j > i:
        sc = _scale(t, j, lx) if j < t.n and t.spaced(j) else None
        if sc is None:
            return None
        return _Value(total * Decimal(int(sc[0])), True, False, False, sc[1])
    # «миллиард долларов»: one of a scale; «сотни миллионов», «миллиарды долларов»: vague
    sc = _scale(t, i, lx)
    if sc is not None and word not in _ABBREVIATIONS:
        if word in ("миллион", "миллиард", "триллион", "тысяча", "тысячу"):
            return _Value(Decimal(int(sc[0])), True, False, False, sc[1])
        if _plural(word):
            return _Value(Decimal(int(sc[0])), True, False, True, sc[1])
        return None
    vague = next((lx.vague[lem] for lem in lems if lem in lx.vague), None)
    if vague is not None and _plural(word) and i + 1 < t.n and t.spaced(i + 1):
        sc = _scale(t, i + 1, lx)
        if sc is not None and _plural(t.words[i + 1].lower()):
            return _Value(Decimal(str(vague)) * Decimal(int(sc[0])), True, False, True, sc[1])
    return None


def _plural(word: str) -> bool:
    return any(p.tag.number == "plur" for p in morph.analyzer().parse(word))


def _currency(t: _Toks, i: int, lx: MoneyLexicon) -> tuple[str, int] | None:
    """A currency after an amount at token i: up to two adjectives naming it, then its word, code or
    abbreviation («российских рублей», «долл. США», «USD»)."""
    if i >= t.n or not t.spaced(i):
        return None
    word = t.words[i]
    if word in lx.codes:
        return word, i + 1
    adjectives: list[frozenset[str]] = []
    j = i
    while j < t.n and len(adjectives) < 2 and (j == i or t.spaced(j)):
        lems = t.lemmas(j)
        if not lems & lx.currency_adjectives.keys():
            break
        adjectives.append(lems)
        j += 1
    if j >= t.n or (j > i and not t.spaced(j)):
        return None
    lems = t.lemmas(j) | {t.words[j].lower()}
    cur_lemma = next((lem for lem in lems if lem in lx.currencies), None)
    if cur_lemma is None:
        return None
    code = lx.currencies[cur_lemma]
    for adj in adjectives:
        for a in adj & lx.currency_adjectives.keys():
            code = lx.currency_adjectives[a].get(cur_lemma, code)
    j += 1
    if j < t.n and t.words[j] == "." and t.glued(j) and cur_lemma in _ABBREVIATIONS:
        j += 1
    if j < t.n and t.spaced(j) and t.lemmas(j) & lx.currency_tails:  # «долларов США», «фунтов стерлингов»
        j += 1
    return code, j


def _prefix(t: _Toks, i: int, lx: MoneyLexicon) -> tuple[str, str, int] | None:
    """A currency before the number at token i: (code, kind, index of the number); kind is "symbol", "code" or
    "letter" («Т330 млрд»)."""
    word = t.words[i]
    if word == "US" and i + 1 < t.n and t.words[i + 1] == "$" and t.glued(i + 1):
        return "USD", "symbol", i + 2
    if word in lx.symbols:
        return lx.symbols[word], "symbol", i + 1
    nxt = i + 1
    if nxt >= t.n or not t.words[nxt][:1].isdigit():
        return None
    if word in lx.codes and t.spaced(nxt):
        return word, "code", nxt
    if t.glued(nxt):
        for letter, code in lx.letter_prefixes.items():
            if word == letter:
                return code, "letter", nxt
    return None


def _starts(t: _Toks, lx: MoneyLexicon) -> list[int]:
    out = []
    for i, w in enumerate(t.words):
        c = w[:1]
        if c.isdigit() or w in lx.symbols or w in lx.codes or w in lx.letter_prefixes or w == "US":
            out.append(i)
        elif c.isalpha() and not c.isascii() and morph.normal(w[:2]) in _word_starts(lx):
            out.append(i)  # a word that may begin an amount: a number word, a scale, «сотни», «полмиллиарда»
    return out


@lru_cache(maxsize=1)
def _word_starts(lx: MoneyLexicon) -> frozenset[str]:
    """The first two letters of the words an amount may begin with (every case form keeps them: «трёх», «три»)."""
    words = (*lx.numbers, *lx.scales, *lx.half_scales, *lx.vague)
    return frozenset(morph.normal(w[:2]) for w in words)


def find_money(text: str) -> list[RawMention]:
    """Every money amount of ``text``, in order."""
    lx = lexicon()
    t = _Toks(text)
    out: list[RawMention] = []
    starts = _starts(t, lx)
    k = 0
    while k < len(starts):
        i = starts[k]
        got = _parse(t, i, lx)
        if got is None:
            k += 1
            continue
        out.append(got[0])
        nxt = got[1]
        while k < len(starts) and starts[k] < nxt:
            k += 1
    return out


def _parse(t: _Toks, i: int, lx: MoneyLexicon) -> tuple[RawMention, int] | None:
    pre = _prefix(t, i, lx)
    j = pre[2] if pre else i
    if pre and pre[1] == "symbol" and j < t.n and t.gap(j) not in ("", " ", "\u00a0"):
        return None
    v = _value(t, j, lx)
    if v is None:
        return None
    if pre and pre[1] == "symbol" and not t.words[j][:1].isdigit():
        return None
    j = v.end
    amount_max = None
    # a range: «50–60 млн», «$3–5 млрд», «от 50 до 60 миллионов»
    if j < t.n and (t.words[j] in _DASHES or (t.words[j].lower() == "до" and _from_before(t, i))):
        k = j + 1
        if k < t.n and pre and t.words[k] in lx.symbols:
            k += 1
        v2 = _value(t, k, lx) if k < t.n and t.words[k][:1].isdigit() else None
        if v2 is not None and (v2.scaled or not v.scaled):
            low = v.amount
            if v2.scaled and not v.scaled:
                low = v.amount * (v2.amount / _unscaled(t, k, lx)) if _unscaled(t, k, lx) else v.amount
            if low <= v2.amount:
                v = _Value(low, v2.scaled, v.decimal or v2.decimal, v.vague, v2.end)
                amount_max = v2.amount
                j = v2.end
    code, end = None, j
    if pre:
        code = pre[0]
        suffix = _currency(t, j, lx)
        if suffix is not None and suffix[0] == code:
            end = suffix[1]  # «$100 млн долларов»
    else:
        suffix = _currency(t, j, lx)
        if suffix is None:
            return None
        code, end = suffix
    if pre and pre[1] == "letter" and not v.scaled:
        return None  # «Т34»: a letter and a number
    if not _is_money(t, i, end, v, pre, lx):
        return None
    start = t.start[i]
    if amount_max is not None and _from_before(t, i):
        start = t.start[i - 1]  # «от 50 до 60 млн долларов»
    last = end - 1
    if t.words[last] == "." and last > i:
        last -= 1  # «$629 млн.» at the end of a sentence: the full stop is the sentence's
    stop = t.end[last]
    approx = v.vague
    hedge = _hedge(t, i, lx)
    if hedge is not None:
        start, approx = hedge, True
    amount = float(v.amount)
    mx = float(amount_max) if amount_max is not None else None
    return RawMention(start, stop, t.text[start:stop], amount, mx, code, approx), end


def _unscaled(t: _Toks, k: int, lx: MoneyLexicon) -> Decimal | None:
    d = _digits(t, k)
    return d[0] if d else None


def _from_before(t: _Toks, i: int) -> bool:
    return i > 0 and t.words[i - 1].lower() == "от"


def _is_money(t: _Toks, i: int, end: int, v: _Value, pre, lx: MoneyLexicon) -> bool:
    """Not a rate, a ticker, a unit price or a small sum."""
    before = t.text[max(0, t.start[i] - 12):t.start[i]]
    if "=" in before[-4:] or before.rstrip().endswith("/"):
        return False  # «1 USD = 10,9 сомони»
    if _unit_after(t, end, lx):
        return False
    if not v.scaled:
        if pre and pre[1] == "code":
            return False  # a ticker: «USD 87.45», «USD 12 720»
        if v.decimal:
            return False  # «68,5 сома», «$82,10»: a rate or a price
        if v.amount < (1000 if pre else 10_000):
            return False
        window = range(max(0, i - 6), i)
        if any(t.lemmas(k) & lx.rate_before for k in window):
            return False
    return True


def _unit_after(t: _Toks, j: int, lx: MoneyLexicon) -> bool:
    """«за тонну», «за 1000 кубометров», «/т», «в месяц», «на человека», «за доллар» (a rate)."""
    if j >= t.n:
        return False
    w = t.words[j].lower()
    if w == "/":
        return True
    k = j + 1
    if k < t.n and t.words[k][:1].isdigit():
        k += 1
    nxt = t.lemmas(k) if k < t.n else frozenset()
    if w == "за":
        return bool(nxt & (lx.unit_after | lx.currencies.keys()))
    if w == "в":
        return bool(t.lemmas(j + 1) & lx.periods_after)
    if w == "на":
        return bool(t.lemmas(j + 1) & lx.per_head_after)
    return False


def _hedge(t: _Toks, i: int, lx: MoneyLexicon) -> int | None:
    """Start of a hedge word right before token i («около», «свыше», «оценивается в»), if there is one."""
    s = t.start[i]
    window = t.text[max(0, s - 30):s]
    m = lx.hedges.search(window)
    if m is None:
        return None
    h0 = max(0, s - 30) + m.start("h")
    if m.group("h").lower() == "до":
        # «с $3 млрд до $5 млрд», «от 50 до 60»: the end of a change or a range
        prev = t.text[max(0, h0 - 30):h0].rstrip()
        if prev and (prev[-1].isdigit() or _ends_with_money_word(prev, lx)):
            return None
    return h0


def _ends_with_money_word(s: str, lx: MoneyLexicon) -> bool:
    m = re.search(r"([^\W\d_]+)\.?$", s)
    if not m:
        return False
    lems = morph.lemmas(m.group(1)) | {m.group(1).lower()}
    return bool(lems & (lx.currencies.keys() | lx.scales.keys()))
