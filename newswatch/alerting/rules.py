"""Alert rules: a YAML file of named rules, each compiled to an Elasticsearch query over the stories.

A rule is written with simple fields or, for power users, as a raw ES query::

    rules:
      - name: central-asia-financing
        recipients: [desk@example.org]
        countries: [KZ, KG, TJ, TM, UZ]       # any of these countries ...
        finance_kinds: [loan, grant, aid, investment, financing, debt]
        keywords: ["investment", "loans"]      # ... and (a finance mention of these kinds OR one of these phrases)
        min_usd: 1e8                           # (finance mentions only) worth at least this much; without
                                               # finance_kinds: a deal (loan, grant, aid, investment, financing)
      - name: my-raw-rule
        recipients: [me@example.org]
        query: {"match_phrase": {"text": "Rogun"}}

Simple fields combine with AND; values inside a field with OR. ``finance_kinds``/``min_usd`` (a finance
mention) and ``keywords`` (phrases in title or text) are alternatives: a story matches with either. A Russian
keyword matches in every case and number («кредит»: кредита, кредиту, кредитами...; «безвозмездная помощь»:
безвозмездной помощи...): its forms come from pymorphy3's dictionary when the rule is compiled.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..schemas.deals import has_deal, is_deal
from ..schemas.story import FinanceKind

FINANCE_KINDS = set(get_args(FinanceKind))
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")


class RuleError(ValueError):
    """An invalid rule: the message names the rule and the problem."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    recipients: list[str] = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    finance_kinds: list[str] = Field(default_factory=list)
    min_usd: float | None = None
    keywords: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="site names or feed URLs")
    query: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):  # fullmatch: "$" alone lets a trailing newline into mail headers
            raise ValueError("name must be 2-64 characters of a-z, 0-9, '-' or '_' (it is used in mail subjects)")
        return v

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if not _EMAIL.fullmatch(r)]
        if bad:
            raise ValueError(f"not an e-mail address: {bad}")
        return v

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        import pycountry

        v = [c.upper() for c in v]
        bad = [c for c in v if pycountry.countries.get(alpha_2=c) is None]
        if bad:
            raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {bad}")
        return v

    @field_validator("finance_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in FINANCE_KINDS]
        if bad:
            raise ValueError(f"unknown finance kinds {bad}; known: {sorted(FINANCE_KINDS)}")
        return v

    @model_validator(mode="after")
    def _has_condition(self) -> "Rule":
        simple = any([self.countries, self.regions, self.finance_kinds, self.min_usd is not None, self.keywords,
                      self.sources])
        if self.query is not None and simple:
            raise ValueError("use either simple fields or a raw 'query', not both")
        if self.query is None and not simple:
            raise ValueError("no condition: give countries/regions/finance_kinds/min_usd/keywords/sources or query")
        if self.query is not None and (len(self.query) != 1 or not isinstance(next(iter(self.query.values())), dict)):
            raise ValueError("'query' must be one Elasticsearch query clause, e.g. {\"match\": {\"text\": \"...\"}}")
        return self

    def to_query(self) -> dict:
        """The ES query over stories (without the filter on the stories just indexed)."""
        if self.query is not None:
            return self.query
        must: list[dict] = []
        if self.countries:
            must.append({"terms": {"countries": self.countries}})
        if self.regions:
            must.append({"terms": {"regions": self.regions}})
        if self.sources:
            must.append({"bool": {"should": [{"terms": {"site": self.sources}}, {"terms": {"feeds": self.sources}}],
                                  "minimum_should_match": 1}})
        either: list[dict] = []
        if self.finance_kinds or self.min_usd is not None:
            nested: list[dict] = []
            if self.finance_kinds:
                nested.append({"terms": {"finance.kind": self.finance_kinds}})
            if self.min_usd is not None:
                nested.append({"range": {"finance.usd": {"gte": self.min_usd}}})
            if not self.finance_kinds:  # an amount alone means a deal, not $10 billion of market turnover
                either.append(has_deal(*nested))
            else:
                either.append({"nested": {"path": "finance", "query": {"bool": {"filter": nested}}}})
        for phrase in self.keywords:
            forms = keyword_forms(phrase)
            if len(forms) > 1 and all(" " not in f for f in forms):  # one word in all its forms: any of them
                either.append({"multi_match": {"query": " ".join(forms), "operator": "or", "fields": ["title", "text"]}})
                continue
            for form in forms:
                either.append({"multi_match": {"query": form, "type": "phrase", "fields": ["title", "text"]}})
        if either:
            must.append({"bool": {"should": either, "minimum_should_match": 1}})
        return {"bool": {"filter": must}}

    def phrases(self) -> list[str]:
        """Every phrase the keywords stand for (a Russian keyword in all its forms)."""
        return list(dict.fromkeys(f for k in self.keywords for f in keyword_forms(k)))

    def matches(self, story: dict) -> bool:
        """Whether the rule matches ``story`` (a story document or the like: countries, regions, finance, title,
        text), as its Elasticsearch query would (keywords: phrases of lower-cased word tokens, the standard
        analyzer's way). For offline evaluation; alerts run the ES query."""
        if self.query is not None:
            raise ValueError(f"rule {self.name!r} is a raw query: only Elasticsearch can evaluate it")
        if self.countries and not set(self.countries) & set(story.get("countries") or ()):
            return False
        if self.regions and not set(self.regions) & set(story.get("regions") or ()):
            return False
        if self.sources and not ({story.get("site")} | set(story.get("feeds") or ())) & set(self.sources):
            return False
        if not (self.finance_kinds or self.min_usd is not None or self.keywords):
            return True
        for f in story.get("finance") or ():
            if self.finance_kinds and f.get("kind") not in self.finance_kinds:
                continue
            if self.min_usd is not None and (f.get("usd") is None or f["usd"] < self.min_usd):
                continue
            if not self.finance_kinds and not is_deal(f):
                continue
            if self.finance_kinds or self.min_usd is not None:
                return True
        words = [_words(story.get("title") or ""), _words(story.get("text") or "")]
        return any(_contains(w, _words(p)) for p in self.phrases() for w in words)


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i:i + n] == phrase for i in range(len(words) - n + 1) if words[i] == phrase[0])


_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")


@lru_cache(maxsize=1024)
def keyword_forms(phrase: str) -> tuple[str, ...]:
    """``phrase`` as texts write it: itself, and for a Russian phrase every case and number of it (the words that
    agree with its noun inflected with it; a verb in its finite forms and infinitive)."""
    if not re.search("[\u0400-\u04ff]", phrase):
        return (phrase,)
    from ..extraction.ru.morph import analyzer

    words = phrase.split()
    parses = [analyzer().parse(w)[0] for w in words]
    forms = [phrase]
    if len(words) == 1:
        p = parses[0]
        keep = {"VERB", "INFN"} if p.tag.POS in ("VERB", "INFN") else None
        forms += [f.word for f in p.lexeme if keep is None or f.tag.POS in keep]
        return tuple(dict.fromkeys(forms))
    head = next((i for i, p in enumerate(parses) if p.tag.POS == "NOUN"), len(words) - 1)
    for case in _CASES:
        for number in ("sing", "plur"):
            noun = parses[head].inflect({case, number})
            if noun is None:
                continue
            out = []
            for i, p in enumerate(parses):
                if i == head:
                    out.append(noun.word)
                elif i < head and p.tag.POS in ("ADJF", "PRTF"):
                    grams = {case, number} | ({noun.tag.gender} if number == "sing" and noun.tag.gender else set())
                    if case == "accs" and noun.tag.animacy and (number == "plur" or noun.tag.gender == "masc"):
                        grams.add(noun.tag.animacy)  # «кредитные линии», not «кредитных линии»
                    got = p.inflect(grams)
                    out.append(got.word if got else words[i].lower())
                else:
                    out.append(words[i].lower())  # a word after the noun keeps its form («линия кредита»)
            forms.append(" ".join(out))
    return tuple(dict.fromkeys(forms))


def parse_rules(data: Any, origin: str = "rules") -> list[Rule]:
    """Validate rules; the first problem raises RuleError naming the rule and what is wrong."""
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RuleError(f"{origin}: expected a list of rules under 'rules:'")
    rules, seen = [], set()
    for i, item in enumerate(items):
        label = item.get("name") if isinstance(item, dict) and item.get("name") else f"#{i + 1}"
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in exc.errors())
            raise RuleError(f"{origin}: rule {label!r} is invalid: {problems}") from None
        if rule.name in seen:
            raise RuleError(f"{origin}: rule {rule.name!r} is defined twice")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def default_rules_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "rules.yaml"


def load_rules(path: str | Path | None = None) -> list[Rule]:
    path = Path(path or default_rules_path())
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    return parse_rules(data, origin=str(path))
