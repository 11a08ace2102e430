"""The first-character look-ahead added to the rule patterns changes their speed, never their matches."""
from __future__ import annotations

import re

import lxml.html
import pytest

from newswatch.extraction import entities, finance
from newswatch.extraction._regex import fast_start, first_chars

RULES = [getattr(entities, n) for n in ("PERSON_TITLE_RE", "PERSON_APPOSITIVE_RE", "PERSON_SAID_RE", "ORG_SUFFIX_RE",
                                        "ORG_OF_RE", "ORG_APPOSITIVE_RE", "ORG_AFTER_NOUN_RE")]


def test_first_characters_of_alternatives_optional_prefixes_and_classes():
    assert first_chars(re.compile(r"\b(?:loans?|credit lines?)\b")) == {"l", "c"}
    assert first_chars(re.compile(r"(?:(?:Deputy|Vice)\s+)*(?:Minister|minister)")) == {"D", "V", "M", "m"}
    assert first_chars(re.compile(r"\b[A-C][a-z]+")) == {"A", "B", "C"}
    assert first_chars(re.compile(r"\w+")) is None  # may start with anything: unknown
    assert first_chars(re.compile(r"(?:x)?")) is None  # may match the empty string


def test_patterns_that_may_start_anywhere_or_with_one_literal_are_left_alone():
    rx = re.compile(r"\w+ said")
    assert fast_start(rx) is rx
    rx = re.compile(r"\bgrants?\b", re.I)
    assert fast_start(rx) is rx  # re already skips ahead to a literal prefix


def test_case_insensitive_patterns_keep_matching_every_case():
    rx = re.compile(r"\b(?:loans?|credit lines?|bail-?outs?|rollover)\b", re.I)
    fast = fast_start(rx)
    assert fast is not rx and fast.pattern.startswith("(?=[")
    text = "LOANS, a Credit Line, bailouts, a ROLLOVER and a BAIL-OUT; not a reloan or creditline."
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in rx.finditer(text)]
    assert len(fast.findall(text)) == 5


@pytest.mark.parametrize("rx", RULES + [rx for _kind, rx in finance.KIND_PATTERNS])
def test_rule_patterns_match_exactly_as_written(rx, fixtures_dir):
    original = re.compile(rx.pattern.split(")(?:", 1)[1][:-1] if rx.pattern.startswith("(?=[") else rx.pattern,
                          rx.flags)
    for page in sorted((fixtures_dir / "articles").glob("*.html")):
        text = lxml.html.fromstring(page.read_bytes()).text_content()
        assert [m.group(0) for m in rx.finditer(text)] == [m.group(0) for m in original.finditer(text)]


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
