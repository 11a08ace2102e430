"""The literal-prefix gates of the rule patterns change their speed, never their matches."""
from __future__ import annotations

import re

import lxml.html
import pytest

from newswatch.extraction import currency, entities, kinds, money

EXAMPLES = {  # a text with a match of the rule, and the name the rule finds there
    "PERSON_APPOSITIVE_RE": ("Aziz Karimov, a senior economist at the bank, said so.", "Aziz Karimov"),
    "ORG_APPOSITIVE_RE": ("Geocase, a Georgian think tank, disagreed.", "Geocase"),
    "PERSON_SAID_RE": ("The deal is done, said Aziz Karimov on Monday.", "Aziz Karimov"),
    "ORG_AFTER_NOUN_RE": ("The Chinese company Xinjiang Tianshan built it.", "Xinjiang Tianshan"),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_gates_are_part_of_every_match(name, fixtures_dir):
    """A text is scanned for a rule only if the rule's gate occurs in it: each match must contain the gate."""
    rx = getattr(entities, name)
    gate = entities.RULE_GATES[rx]
    # structurally: the gate is written into the pattern as it stands, either as its tail or as its head followed
    # by the capital letter that starts the name
    if gate.pattern.endswith("[A-Z]"):
        head = gate.pattern[:-len("[A-Z]")]
        assert rx.pattern.count(head) == 1
        assert rx.pattern.split(head, 1)[1].startswith(("([A-Z]", "((?:[A-Z]"))
    else:
        assert rx.pattern.endswith(gate.pattern) or rx.pattern.endswith(gate.pattern + ")")
    assert gate.flags == rx.flags
    example, found = EXAMPLES[name]
    texts = [example] + [lxml.html.fromstring(p.read_bytes()).text_content()
                         for p in sorted((fixtures_dir / "articles").glob("*.html"))]
    matches = [m.group(0) for t in texts for m in rx.finditer(t)]
    assert matches
    for m in matches:
        assert gate.search(m) is not None, (name, m)
    # the gate is selective: prose without the rule's words does not open it
    assert gate.search("Kazakhstan received a $100 million loan from the Asian Development Bank.") is None
    # and a gated rule still finds its names
    assert found in [m.surface for m in entities.find_mentions(example)]


def test_literal_prefixes_of_alternatives_optional_parts_and_case():
    from newswatch.extraction._regex import literal_prefixes

    assert literal_prefixes(re.compile(r"\b(?:loans?|credit lines?|lines? of credit)\b")) == {"loan", "credit line",
                                                                                            "line"}
    assert literal_prefixes(re.compile(r"\b(?:(?:financial|economic)\s+aid|donors?)\b")) == {"financial", "economic",
                                                                                         "donor"}
    assert literal_prefixes(re.compile(r"\b(?:FDI|Stakes?)\b", re.I)) == {"fdi", "stake"}  # look in fold(text)
    assert literal_prefixes(re.compile(r"\b(?:yen|Nikkei)\b")) == {"yen", "Nikkei"}  # case kept
    assert literal_prefixes(re.compile(r"(?=[ab])(?:ax|by)c")) == {"axc", "byc"}  # zero-width parts skipped
    assert literal_prefixes(re.compile(r"lend(?:ers?)?|lent")) == {"lend", "lent"}  # "lender" holds "lend"
    assert literal_prefixes(re.compile(r"\b[A-Z]\w+ Bank")) is None  # may start with any capital
    assert literal_prefixes(re.compile(r"(?:x)?y")) is None  # a match may start without a literal
    # a group with its own case rule: its letters are no literals for the pattern's (case-sensitive) gate
    assert literal_prefixes(re.compile(r"\b(?i:loan)s?")) is None
    assert literal_prefixes(re.compile(r"credit (?i:line)")) == {"credit "}


# Python's re.IGNORECASE matches these to ASCII letters: a gate must find them too
UNICODE_CASES = "A \u212aick-back LOAN, an \u017ftake, FDİ, a Bail-Out and EXPORTS; stand-by arrangement."


def test_gated_patterns_match_exactly_as_written(fixtures_dir):
    from newswatch.extraction._regex import Gated

    texts = [UNICODE_CASES, "nothing here", ""] + [lxml.html.fromstring(p.read_bytes()).text_content()
                                                  for p in sorted((fixtures_dir / "articles").glob("*.html"))]
    patterns = [rx for _kind, rx in kinds.KIND_PATTERNS] + [money.VAGUE.rx, currency.JAPANESE_MEDIA.rx,
                                                              currency.CHINESE_MEDIA.rx, currency.JAPANESE_WORDS.rx]
    for rx in patterns + list(entities.RULE_GATES.values()):
        gated = Gated(rx)
        for text in texts:
            assert gated.findall(text) == rx.findall(text)
            assert [m.span() for m in gated.finditer(text)] == [m.span() for m in rx.finditer(text)]
            assert (gated.search(text) is None) == (rx.search(text) is None)
            assert gated.occurs(text) == (rx.search(text) is not None)
    assert all(Gated(rx).prefixes for rx in patterns)
    # occurs() tries the pattern where a prefix starts: "credit line" is one, though a text without "line" has none
    credit = Gated(re.compile(r"\b(?:credit lines?|lines? of credit)\b", re.I))
    assert credit.prefixes == {"line"} and credit.starts == {"credit line", "line"}
    assert credit.occurs("a CREDIT LINE") and not credit.occurs("a credit limit, the lines")
    assert Gated(re.compile(r"\bstakes?\b", re.I)).findall(UNICODE_CASES) == ["\u017ftake"]
    assert Gated(re.compile(r"\bfdi\b", re.I)).findall(UNICODE_CASES) == ["FDİ"]


def test_flow_words_of_a_sentence_are_those_of_every_kind_pattern(fixtures_dir):
    """The kind scan skips the kinds whose prefixes a sentence lacks: it finds what scanning all of them finds."""
    texts = [UNICODE_CASES] + [lxml.html.fromstring(p.read_bytes()).text_content()
                               for p in sorted((fixtures_dir / "articles").glob("*.html"))]
    found = 0
    for text in texts:
        for s0 in range(0, len(text), 150):  # windows of the text, as sentences are
            s1 = min(len(text), s0 + 300)
            every = sorted((m.start() + s0, m.end() + s0, kind) for kind, rx in kinds.KIND_PATTERNS
                           for m in rx.finditer(text[s0:s1]))
            assert sorted(kinds._kind_hits(text[s0:s1], s0)) == every
            found += len(every)
    assert found > 50
    found_kinds = {k for _s, _e, k in kinds._kind_hits(UNICODE_CASES, 0)}
    assert found_kinds == {"loan", "investment", "trade", "financing_strong"}  # "arrangement" of "stand-by arrangement"
