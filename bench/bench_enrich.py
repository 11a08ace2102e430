"""Benchmark of the enrich stage: ``extract()`` alone, per article, on the fixture pages' main text.

    python bench/bench_enrich.py [--rounds 200] [--fixtures DIR] [--lang en|ru|mixed]

Each page goes through ``html_to_article`` once (as in the pipeline); then ``extract()`` runs ``--rounds`` times
over every article, one call timed at a time, on one core. Printed: median and p99 time per article, articles/s,
and the same figures for two baselines measured in the same run on the same texts, so the ratio is meaningful on
any machine:

* ``regex``: ``re.findall`` of capitalised words (the cheapest conceivable "entity" pass);
* ``trafilatura``: main-text extraction of the same pages (the stage right before enrich).

One-off costs (gazetteer build, ECB rates load; for Russian pages natasha's models and the Russian gazetteer) are
measured separately and reported as "cold start". ``--lang ru`` times the Russian development pages
(``dev-ru/articles``), ``mixed`` both sets.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


def _fixtures(arg: str | None) -> Path:
    base = Path(arg or os.environ.get("NEWSWATCH_FIXTURES", ROOT.parent / "shared" / "fixtures"))
    if not (base / "articles").is_dir() and not (base / "dev-ru" / "articles").is_dir():
        sys.exit(f"no articles/ under {base} (use --fixtures or NEWSWATCH_FIXTURES)")
    return base


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _time_each(fn, items, rounds: int) -> list[float]:
    samples = []
    clock = time.perf_counter
    for _ in range(rounds):
        for item in items:
            t0 = clock()
            fn(item)
            samples.append(clock() - t0)
    return samples


def _row(label: str, samples: list[float]) -> dict:
    med = statistics.median(samples)
    return {"label": label, "median_ms": med * 1e3, "p99_ms": _percentile(samples, 99) * 1e3,
            "mean_ms": statistics.fmean(samples) * 1e3, "per_s": 1 / statistics.fmean(samples), "n": len(samples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="passes over all articles for extract() (default 200)")
    ap.add_argument("--fixtures", help="directory with articles/ (default: $NEWSWATCH_FIXTURES or ../shared/fixtures)")
    ap.add_argument("--lang", choices=("en", "ru", "mixed"), default="en",
                    help="English fixture pages (default), the Russian dev-ru pages, or both")
    args = ap.parse_args(argv)

    base = _fixtures(args.fixtures)
    dirs = {"en": [base / "articles"], "ru": [base / "dev-ru" / "articles"],
            "mixed": [base / "articles", base / "dev-ru" / "articles"]}[args.lang]
    pages = [p.read_text(encoding="utf-8") for d in dirs for p in sorted(d.glob("*.html"))]

    t0 = time.perf_counter()
    from newswatch.extraction import EXTRACTION_VERSION, extract, html_to_article
    from newswatch.extraction.usd import _converter
    from newswatch.extraction.gazetteer import load

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    load()
    t_gazetteer = time.perf_counter() - t0
    t0 = time.perf_counter()
    _converter()
    t_rates = time.perf_counter() - t0
    t_ru = None
    if args.lang != "en":
        from newswatch.extraction.ru.gazetteer import load as load_ru
        from newswatch.extraction.ru.nlp import models

        t0 = time.perf_counter()
        models()
        load_ru()
        t_ru = time.perf_counter() - t0

    articles = []
    for html in pages:
        a = html_to_article(html) or {}
        published = date.fromisoformat(a["date"][:10]) if a.get("date") else None
        articles.append((a.get("title") or "", a.get("text") or "", published, a.get("sitename"), a.get("lang")))
    chars = statistics.fmean(len(t) + len(x) for t, x, *_ in articles)

    def run_extract(a):
        title, text, published, site, lang = a
        extract(title, text, published=published, site=site, lang=lang)

    def run_regex(a):
        CAPITALISED.findall(a[0] + "\n\n" + a[1])

    def run_trafilatura(html):
        html_to_article(html)

    _time_each(run_extract, articles, 3)  # warm caches
    rows = [_row("extract()", _time_each(run_extract, articles, args.rounds)),
            _row("baseline: regex capitalised words", _time_each(run_regex, articles, args.rounds)),
            _row("baseline: trafilatura (html_to_article)", _time_each(run_trafilatura, pages,
                                                                        max(3, args.rounds // 20)))]

    print(f"newswatch enrich benchmark  (extraction {EXTRACTION_VERSION}, Python {sys.version.split()[0]}, one core)")
    langs = sorted({a[4] or "?" for a in articles})
    print(f"{len(articles)} fixture articles ({', '.join(langs)}), mean {chars:,.0f} characters of title + main text, "
          f"{args.rounds} rounds\n")
    print(f"cold start (once per process): import {t_import * 1e3:.0f} ms, gazetteer build {t_gazetteer * 1e3:.0f} ms, "
          f"ECB rates load {t_rates * 1e3:.0f} ms"
          + (f", natasha models + Russian gazetteer {t_ru * 1e3:.0f} ms" if t_ru is not None else "") + "\n")
    print(f"{'':42} {'median':>9} {'p99':>9} {'mean':>9} {'articles/s':>11}")
    for r in rows:
        print(f"{r['label']:42} {r['median_ms']:7.3f}ms {r['p99_ms']:7.3f}ms {r['mean_ms']:7.3f}ms {r['per_s']:11,.0f}")
    ext, rx, tf = rows
    print()
    print(f"extract() median is {ext['median_ms'] / rx['median_ms']:.1f}x the regex baseline "
          f"and {ext['median_ms'] / tf['median_ms']:.3f}x (= {tf['median_ms'] / ext['median_ms']:.1f}x faster than) "
          f"trafilatura on the same pages")
    if args.lang != "en":
        return 0  # the target is English's; Russian runs natasha's models on every story
    target = 5.0
    verdict = "OK" if ext["median_ms"] < target else "ABOVE TARGET"
    print(f"target: median < {target:.0f} ms per typical article -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
