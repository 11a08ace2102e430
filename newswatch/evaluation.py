"""Measure extraction against a gold file (``newswatch eval GOLD --pages DIR``).

Each page goes through exactly what the pipeline does (``html_to_article`` then ``extract``). The gold file's
``about`` field defines the rules: countries are ISO codes that must be found (and ``not_countries`` must not);
orgs/people are surface forms matched case-insensitively against the canonical name or any alias; a finance
mention matches on currency and amount (an ``approx`` one: any amount within a factor of 2 flagged approximate);
``not_amounts`` must never become finance mentions. Russian gold (``../shared/fixtures/dev-ru``) adds, per article,
``aliases`` (nominative and English names of an inflected org/person string; any of them may match) and, per
finance entry, ``lender`` (an ISO code or the organisation's name, English or Russian): lender accuracy. Where an
article says ``alert_central_asia_financing``, the bundled rule is evaluated on the extraction (its fields and
keywords, as Elasticsearch would match them): alert accuracy.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

METRICS = ("country_precision", "country_recall", "org_precision", "org_recall", "person_precision", "person_recall",
           "finance_precision", "finance_recall", "currency_accuracy", "kind_accuracy", "recipient_accuracy",
           "lender_accuracy", "alert_accuracy")


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    countries: Tally = field(default_factory=Tally)
    orgs: Tally = field(default_factory=Tally)
    people: Tally = field(default_factory=Tally)
    finance: Tally = field(default_factory=Tally)
    currency: Tally = field(default_factory=Tally)  # tp = right currency among amount matches, fn = wrong
    kind: Tally = field(default_factory=Tally)
    recipient: Tally = field(default_factory=Tally)
    lender: Tally = field(default_factory=Tally)
    alert: Tally = field(default_factory=Tally)  # tp = pages where the rule's decision is gold's, fn = the others
    violations: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    recognisers: set[str] = field(default_factory=set)
    ner_errors: set[str] = field(default_factory=set)

    def add(self, other: "Report") -> None:
        """Add ``other``'s counts and findings (several gold files make one report)."""
        for name in ("countries", "orgs", "people", "finance", "currency", "kind", "recipient", "lender", "alert"):
            mine, theirs = getattr(self, name), getattr(other, name)
            mine.tp, mine.fp, mine.fn = mine.tp + theirs.tp, mine.fp + theirs.fp, mine.fn + theirs.fn
        self.violations += other.violations
        self.lines += other.lines
        self.extras += other.extras
        self.recognisers |= other.recognisers
        self.ner_errors |= other.ner_errors

    def metrics(self) -> dict[str, float]:
        return {
            "country_precision": self.countries.precision, "country_recall": self.countries.recall,
            "org_precision": self.orgs.precision, "org_recall": self.orgs.recall,
            "person_precision": self.people.precision, "person_recall": self.people.recall,
            "finance_precision": self.finance.precision, "finance_recall": self.finance.recall,
            "currency_accuracy": self.currency.recall, "kind_accuracy": self.kind.recall,
            "recipient_accuracy": self.recipient.recall, "lender_accuracy": self.lender.recall,
            "alert_accuracy": self.alert.recall,
        }


def _key(name: str) -> str:
    from .extraction.gazetteer import tokens_of

    return " ".join(tokens_of(name)).lower().replace("ё", "е")


def _lemma_key(name: str) -> str | None:
    """Cyrillic names compared by the lemmas of their words («Саудовского фонда развития» = «Саудовский фонд
    развития»)."""
    if not re.search("[\u0400-\u04ff]", name):
        return None
    from .extraction.ru.gazetteer import form_keys

    return " ".join(form_keys(name))


def _id_names(typ: str, eid: str) -> set[str]:
    from .extraction.gazetteer import load

    names: set[str] = set()
    for key, ref in load().forms.items():
        if ref.id == eid and ref.type == typ:
            names.add(" ".join(key))
    from .extraction.ru.gazetteer import load as load_ru

    names.update(load_ru().forms.get((typ, eid), ()))
    return names


def _names(entity) -> set[str]:
    """Canonical name, surface forms and every gazetteer alias (English and Russian) of an extracted entity, as
    lower-cased keys and, for Cyrillic ones, lemma keys."""
    names = {entity.name, *entity.surface_forms, *_id_names(entity.type, entity.id)}
    return {_key(n) for n in names} | {k for k in map(_lemma_key, names) if k}


def _wanted_keys(name: str, aliases: dict) -> set[str]:
    forms = [name, *aliases.get(name, [])]
    return {_key(f) for f in forms} | {k for k in map(_lemma_key, forms) if k}


def _lender_matches(gold: str, got: str | None, res) -> bool:
    if got is None:
        return False
    if gold.upper() == got.upper():
        return True
    want = _wanted_keys(gold, {})
    ent = next((e for e in res.entities if e.id == got and e.type == "org"), None)
    names = _names(ent) if ent else {_key(n) for n in _id_names("org", got)} | {
        k for k in map(_lemma_key, _id_names("org", got)) if k}
    return bool(want & names)


def _amount_matches(gold: dict, m) -> bool:
    if gold.get("approx"):
        return m.approx and gold["amount"] / 2 <= m.amount <= gold["amount"] * 2
    return abs(m.amount - gold["amount"]) <= 1e-6 * gold["amount"]


_RU_FIGURE = re.compile(r"[\u0400-\u04ff₽₸]|\d,\d{1,2}(?!\d)|\d,\d{4}|\d[ \u00a0]\d{3}")


def _parse_figure(s: str) -> tuple[float | None, bool]:
    """'$2 trillion' -> (2e12, True); '300%' -> (300, False); '12,520' -> (12520, False); Russian figures with
    decimal commas and spaced thousands: 'USD 87,30' -> (87.3, True), '68,5 сома' -> (68.5, True),
    '100 000 тенге' -> (100000, True)."""
    if _RU_FIGURE.search(s):
        return _parse_ru_figure(s)
    m = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(trillion|billion|million|thousand)?", s)
    if not m:
        return None, False
    value = float(m.group(1).replace(",", ""))
    value *= {"trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3}.get(m.group(2) or "", 1)
    return value, bool(re.search(r"[$€£¥]|dollar|euro|yuan|yen|rupee|Rs", s))


def _parse_ru_figure(s: str) -> tuple[float | None, bool]:
    from .extraction.ru.money import find_money, lexicon

    found = find_money(s)
    if found:
        return found[0].amount, True
    m = re.search(r"\d{1,3}(?:[ \u00a0]\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?", s)
    if not m:
        return None, False
    value = float(m.group().replace(" ", "").replace("\u00a0", "").replace(",", "."))
    lx = lexicon()
    from .extraction.ru import morph

    words = re.findall(r"[^\W\d_]+", s)
    money = bool(re.search(r"[$€£¥₽₸]", s)) or any(w in lx.codes for w in words) or any(
        morph.lemmas(w) & lx.currencies.keys() for w in words)
    return value, money


def _alert_fires(article: dict, res) -> bool:
    """Whether the bundled Central Asia financing rule matches the story as extracted."""
    from .alerting.rules import load_rules

    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    return rule.matches({"title": article.get("title") or "", "text": article.get("text") or "",
                         "countries": res.countries, "regions": res.regions,
                         "finance": [f.model_dump() for f in res.finance]})


def evaluate(gold_path: str | Path, pages_dir: str | Path | None = None, nlp=None) -> Report:
    """Measure extraction against one gold file; its pages are in ``pages_dir`` (default: ``articles/`` beside
    it). Each page goes through what the pipeline does with it: byte decoding, ``html_to_article`` with the page's
    URL, the site fallback, :func:`~newswatch.extraction.analyze_text` over the text and captions. ``nlp``: the
    recogniser the pipeline would call (an :class:`~newswatch.connectors.nlp.NlpConfig`)."""
    from urllib.parse import urlsplit

    from .extraction import analyze_text, html_to_article
    from .extraction.article import enrichment_text
    from .pipelines.extract import decode_html

    gold = json.loads(Path(gold_path).read_text(encoding="utf-8"))
    pages = Path(pages_dir) if pages_dir else Path(gold_path).parent / "articles"
    rep = Report()
    for name, exp in gold["articles"].items():
        url = exp.get("source_url")
        article = html_to_article(decode_html((pages / name).read_bytes(), None), url=url) or {}
        published = date.fromisoformat(article["date"][:10]) if article.get("date") else None
        site = article.get("sitename") or (urlsplit(url).hostname if url else None)
        res = analyze_text(article.get("title") or "", enrichment_text(article.get("text"), article.get("captions")),
                           published=published, site=site, lang=article.get("lang"),
                           author=article.get("author"), nlp=nlp)
        rep.recognisers.add(res.ner)
        if res.ner_error:
            rep.ner_errors.add(res.ner_error)
        rep.lines.append(f"== {name}")
        # countries
        found, want = set(res.countries), set(exp["countries"])
        rep.countries.tp += len(found & want)
        rep.countries.fp += len(found - want)
        rep.countries.fn += len(want - found)
        for c in sorted(want - found):
            rep.lines.append(f"   MISS country {c}")
        for c in sorted(found - want):
            rep.lines.append(f"   FALSE country {c}")
        for c in sorted(found & set(exp.get("not_countries", []))):
            rep.violations.append(f"{name}: not_countries {c} extracted")
        # orgs and people: gold lists what must be found; other names found count against precision, but gold
        # lists are not exhaustive (a correct "Toyota" not in gold is a "false" hit), so precision is indicative
        aliases = exp.get("aliases") or {}
        for kind, tally, wanted in (("org", rep.orgs, exp.get("orgs", [])), ("person", rep.people, exp.get("people", []))):
            ents = [e for e in res.entities if e.type == kind]
            names = {e.id: _names(e) for e in ents}
            matched = set()
            for w in wanted:
                keys = _wanted_keys(w, aliases)
                hit = next((e for e in ents if keys & names[e.id]), None)
                if hit:
                    tally.tp += 1
                    matched.add(hit.id)
                else:
                    tally.fn += 1
                    rep.lines.append(f"   MISS {kind} {w!r}")
            for e in ents:
                if e.id not in matched:
                    tally.fp += 1
                    rep.extras.append(f"{name}: {kind} {e.name!r} (not in gold)")
        # finance
        used: set[int] = set()
        for g in exp.get("finance", []):
            i = next((k for k, m in enumerate(res.finance)
                      if k not in used and m.currency == g["currency"] and _amount_matches(g, m)), None)
            if i is None:
                rep.finance.fn += 1
                near = next((m for m in res.finance if abs(m.amount - g["amount"]) <= 1e-6 * g["amount"]), None)
                if near is not None:  # right amount, wrong currency
                    rep.currency.fn += 1
                rep.lines.append(f"   MISS finance {g['text']!r} ({g['amount']:g} {g['currency']}, {g['kind']})"
                                 + (f" - found as {near.currency}" if near else ""))
                continue
            used.add(i)
            m = res.finance[i]
            rep.finance.tp += 1
            rep.currency.tp += 1
            if m.kind == g["kind"]:
                rep.kind.tp += 1
            else:
                rep.kind.fn += 1
                rep.lines.append(f"   KIND {g['text']!r}: {m.kind} (gold {g['kind']})")
            if g.get("lender"):
                if _lender_matches(g["lender"], m.lender, res):
                    rep.lender.tp += 1
                else:
                    rep.lender.fn += 1
                    rep.lines.append(f"   LENDER {g['text']!r}: {m.lender} (gold {g['lender']})")
            if g.get("recipient"):
                if m.recipient == g["recipient"]:
                    rep.recipient.tp += 1
                else:
                    rep.recipient.fn += 1
                    rep.lines.append(f"   RECIPIENT {g['text']!r}: {m.recipient} (gold {g['recipient']})")
        for k, m in enumerate(res.finance):
            if k not in used:
                rep.finance.fp += 1
                rep.lines.append(f"   FALSE finance {m.text!r} ({m.amount:g} {m.currency}, {m.kind})")
        if "alert_central_asia_financing" in exp:
            fired = _alert_fires(article, res)
            if fired == exp["alert_central_asia_financing"]:
                rep.alert.tp += 1
            else:
                rep.alert.fn += 1
                rep.lines.append(f"   ALERT {'fired' if fired else 'silent'} (gold {exp['alert_central_asia_financing']})")
        for figure in exp.get("not_amounts", []):
            value, is_money = _parse_figure(figure)
            bad = [m for m in res.finance if figure in m.text or (value is not None and m.amount == value
                                                                  and (is_money or value >= 100))]
            if bad:
                rep.violations.append(f"{name}: not_amount {figure!r} extracted as {bad[0].text!r}")
    return rep


def render(rep: Report) -> str:
    out = ["", "newswatch eval", ""]
    out += rep.lines
    out += ["", f"{'field':<12} {'precision':>9} {'recall':>7}   tp  fp  fn"]
    for label, t in (("countries", rep.countries), ("orgs", rep.orgs), ("people", rep.people),
                     ("finance", rep.finance)):
        note = "  (precision vs a non-exhaustive list)" if label in ("orgs", "people") else ""
        out.append(f"{label:<12} {t.precision:9.3f} {t.recall:7.3f}  {t.tp:3d} {t.fp:3d} {t.fn:3d}{note}")
    for label, t in (("currency", rep.currency), ("kind", rep.kind), ("recipient", rep.recipient),
                     ("lender", rep.lender), ("alert", rep.alert)):
        out.append(f"{label:<12} {'accuracy':>9} {t.recall:7.3f}  {t.tp:3d}   - {t.fn:3d}")
    out.append(f"names found by: {', '.join(sorted(rep.recognisers)) or '-'}")
    out += [f"   NER service failed: {e}" for e in sorted(rep.ner_errors)]
    out.append("")
    out.append(f"violations (not_amounts / not_countries extracted): {len(rep.violations)}")
    out += [f"   {v}" for v in rep.violations]
    if rep.extras:
        out.append(f"other names found (not in gold; counted as false hits for orgs/people): {len(rep.extras)}")
        out += [f"   {e}" for e in rep.extras]
    return "\n".join(out)


def run_eval(gold: str | list[str], pages: str | None, thresholds: dict[str, float], max_violations: int = 0,
             nlp=None, as_json: bool = False) -> int:
    """Print the report of one or several gold files (their counts added up); exit code 1 if a metric is below
    its threshold or there are more violations than allowed. ``as_json``: the metrics per gold file and in all."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    if pages and len(golds) > 1:
        raise ValueError("--pages names the pages of one gold file; with several, each file's articles/ is used")
    rep, per_file = Report(), {}
    for path in golds:
        one = evaluate(path, pages, nlp)
        per_file[str(path)] = {**one.metrics(), "violations": len(one.violations)}
        rep.add(one)
    metrics = rep.metrics()
    if as_json:
        print(json.dumps({"files": per_file, "all": {**metrics, "violations": len(rep.violations)}}, indent=2))
    else:
        print(render(rep))
    wanted = {k[4:] if k.startswith("min_") else k: v for k, v in thresholds.items() if v is not None}
    unknown = sorted(set(wanted) - set(metrics))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    failed = [f"{k} {metrics[k]:.3f} < {v}" for k, v in wanted.items() if metrics[k] < v]
    if len(rep.violations) > max_violations:
        failed.append(f"{len(rep.violations)} violations > {max_violations}")
    if not as_json:
        print("\nthresholds: " + ("FAILED: " + "; ".join(failed) if failed else "all met"))
    elif failed:
        print("thresholds FAILED: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


# ---------------------------------------------------------------- a peer's money test suite

# subunits alone, Bitcoin and withdrawn pre-euro currencies are no news money; units map to ISO codes
_PEER_SKIP = re.compile(r"cent|penny|pence|\bsen\b|bitcoin|satoshi|markka|peseta|guilder|franc", re.I)
_PEER_UNITS = {"Dollar": "USD", "Pound": "GBP", "Euro": "EUR", "Yen": "JPY", "Chinese yuan": "CNY"}
_PEER_SCALE = re.compile(r"million|billion|trillion|\bbn\b|\bmn\b|lakh|crore|\bm(?:usd|gbp|aud)\b", re.I)
_RUPEES = {"INR", "PKR", "LKR", "NPR"}


def _detokenised(s: str) -> str:
    """The suite writes tokenised, lower-case text ("$ 75 million", "c $ 16.4", "1 , 000"): undo the spacing."""
    s = re.sub(r"(\d) , (\d)", r"\1,\2", s)
    s = re.sub(r"(\d) \. (\d)", r"\1.\2", s)
    s = re.sub(r"\b(us|c|hk|nz) \$ ?", lambda m: m.group(1).upper() + "$", s)
    return re.sub(r"([$€£¥]) (\d)", r"\1\2", s)


def peer_currency_score(path: str | Path) -> dict:
    """Recall and precision on the news-like cases of Recognizers-Text's currency specification: an expected
    amount with a scale word or an ISO code. By newswatch's stated rule an amount under 1,000 written without a
    scale word is a price, not a finance mention; such expected amounts are not scored."""
    from .extraction import analyze_text

    cases = json.loads(Path(path).read_text(encoding="utf-8"))
    tp = fn = fp = 0
    misses: list[str] = []
    for case in cases:
        want = []
        for r in case.get("Results") or []:
            res, text = r.get("Resolution") or {}, r.get("Text", "")
            unit, iso = res.get("unit") or "", res.get("isoCurrency")
            if res.get("value") is None or _PEER_SKIP.search(unit) or _PEER_SKIP.search(text):
                continue
            value = float(res["value"])
            if not (_PEER_SCALE.search(text) or (iso and iso.lower() in text.lower())) or value < 1000:
                continue
            want.append((value, iso or _PEER_UNITS.get(unit) or ("Rs" if "Rupee" in unit else None), text))
        if not want:
            continue
        found = analyze_text("", _detokenised(case["Input"])).finance
        used: set[int] = set()
        for value, cur, text in want:
            hit = next((k for k, m in enumerate(found) if k not in used and abs(m.amount - value) <= 1e-6 * value
                        and (cur is None or m.currency == cur or (cur == "Rs" and m.currency in _RUPEES))), None)
            if hit is None:
                fn += 1
                misses.append(f"{text!r} in {case['Input'][:80]!r}")
            else:
                tp += 1
                used.add(hit)
        fp += len(found) - len(used)
    return {"recall": tp / ((tp + fn) or 1), "precision": tp / ((tp + fp) or 1), "tp": tp, "fn": fn, "fp": fp,
            "misses": misses}
