"""Faster scanning for the rule patterns: the literal prefixes a match must start with (a gate: a text that holds
none of them cannot match, and is not scanned).

The prefixes are computed from the parsed pattern, so they follow every edit of the word lists; if they cannot be
computed (a pattern that may start with anything, or a Python whose parser differs), the pattern is always tried.
"""
from __future__ import annotations

import re

try:  # the regular-expression parser of the standard library (``sre_parse`` before Python 3.11)
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]


def _scoped_case(av) -> bool:
    """Whether a group turns case-insensitivity on or off for its part only: ``(?i:...)``, ``(?-i:...)``."""
    return len(av) == 4 and bool((av[1] | av[2]) & re.IGNORECASE)


# With IGNORECASE, Python's ``re`` matches the ASCII letters to these four others as well (see the ``re`` docs);
# everything else that matches an ASCII letter case-insensitively is that letter in upper or lower case
_FOLD_SPECIAL = ("\u0130", "\u0131", "\u017f", "\u212a")
_FOLD_TO_ASCII = str.maketrans(dict(zip(_FOLD_SPECIAL, "iisk")))


def fold(text: str) -> str:
    """``text`` in which a case-insensitive ASCII literal is found with ``in``, as ``re.IGNORECASE`` finds it."""
    if not text.isascii() and any(c in text for c in _FOLD_SPECIAL):  # rare: translate() is slow
        text = text.translate(_FOLD_TO_ASCII)
    return text.lower()


def _prefixes(items) -> tuple[set[str], bool]:
    """(strings one of which every match of ``items`` starts with, whether those are the whole matches)."""
    out = {""}
    for op, av in items:
        name = str(op)
        if name in ("AT", "ASSERT", "ASSERT_NOT"):  # zero width: consumes nothing
            continue
        if name == "LITERAL":
            out = {p + chr(av) for p in out}
            continue
        if name == "SUBPATTERN":
            if _scoped_case(av):
                return out, False  # "(?i:...)" inside a case-sensitive pattern: its letters are not literals here
            sub, whole = _prefixes(av[-1])
        elif name == "BRANCH":
            sub, whole = set(), True
            for alt in av[1]:
                s, w = _prefixes(alt)
                sub |= s
                whole = whole and w
        else:  # a repeat, a character class, any character...: the literal part ends here
            return out, False
        out = {p + s for p in out for s in sub}
        if not whole:
            return out, False
    return out, True


def literal_prefixes(rx: re.Pattern) -> frozenset[str] | None:
    """Literal strings one of which every match of ``rx`` starts with (lower case for an IGNORECASE pattern: look
    for them in ``fold(text)``), or None if a match may start with anything. A prefix that starts with another
    is left out ("lender" with "lend")."""
    try:
        found, _ = _prefixes(list(_sre_parse.parse(rx.pattern, rx.flags)))
    except Exception:  # pragma: no cover - a parser that works differently
        return None
    if not found or "" in found:
        return None
    if rx.flags & re.IGNORECASE:
        if not all(p.isascii() for p in found):
            return None  # non-ASCII case folding is not modelled by fold()
        found = {p.lower() for p in found}
    return frozenset(p for p in found if not any(q != p and p.startswith(q) for q in found))


def fewest(prefixes: frozenset[str]) -> frozenset[str]:
    """The prefixes to look for with ``in``: a text without "line" has no "credit line" either."""
    return frozenset(p for p in prefixes if not any(q != p and q in p for q in prefixes))


class Gated:
    """A pattern that first looks for its literal prefixes with ``in`` (a C substring search, 10-50x faster than a
    scan that tries the pattern at every position): a text holding none of them has no match and is not scanned.
    Matches are exactly the pattern's."""

    __slots__ = ("rx", "starts", "prefixes", "anycase")

    def __init__(self, rx: re.Pattern):
        self.rx = rx
        self.starts = literal_prefixes(rx)
        if self.starts is not None and min(map(len, self.starts)) < 3:
            self.starts = None  # "," or "a" occurs everywhere: looking for it first only adds work
        self.prefixes = None if self.starts is None else fewest(self.starts)
        self.anycase = bool(rx.flags & re.IGNORECASE)

    def may_match(self, text: str) -> bool:
        if self.prefixes is None:
            return True
        hay = fold(text) if self.anycase else text
        return any(p in hay for p in self.prefixes)

    def occurs(self, text: str) -> bool:
        """``rx.search(text) is not None``, trying the pattern only where one of its prefixes starts."""
        hay = text if self.starts is None or not self.anycase else fold(text)
        if self.starts is None or len(hay) != len(text):
            return self.rx.search(text) is not None
        match = self.rx.match
        for p in self.starts:
            i = hay.find(p)
            while i != -1:
                if match(text, i) is not None:
                    return True
                i = hay.find(p, i + 1)
        return False

    def search(self, text: str) -> re.Match | None:
        return self.rx.search(text) if self.may_match(text) else None

    def findall(self, text: str) -> list:
        return self.rx.findall(text) if self.may_match(text) else []

    def finditer(self, text: str):
        return self.rx.finditer(text) if self.may_match(text) else iter(())
