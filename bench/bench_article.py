"""Main-text extraction on the Zyte (Scrapinghub) article-extraction benchmark, with the benchmark's own scorer.

    git clone https://github.com/scrapinghub/article-extraction-benchmark .cache/article-bench   # once, not in git
    .venv/bin/python bench/bench_article.py [--bench .cache/article-bench]

Scores ``html_to_article``'s text and trafilatura's own ``extract()`` (the benchmark's runner) over the same 181
pages in the same run, and prints F1, precision and recall of each and their ratio (target: F1 >= 0.965).
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _scorer(bench: Path):
    spec = importlib.util.spec_from_file_location("aeb_evaluate", bench / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=ROOT / ".cache" / "article-bench")
    ap.add_argument("--n-bootstrap", type=int, default=200)
    args = ap.parse_args()
    if not (args.bench / "ground-truth.json").is_file():
        print(f"benchmark not found at {args.bench}: clone scrapinghub/article-extraction-benchmark there")
        return 2
    import trafilatura

    from newswatch.extraction import html_to_article

    scorer = _scorer(args.bench)
    truth = json.loads((args.bench / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {p.name.split(".")[0]: gzip.open(p, "rt", encoding="utf8").read()
             for p in sorted((args.bench / "html").glob("*.html.gz"))}
    ours, theirs, seconds = {}, {}, {"newswatch": 0.0, "trafilatura": 0.0}
    for key, html in pages.items():
        t0 = time.perf_counter()
        art = html_to_article(html)
        seconds["newswatch"] += time.perf_counter() - t0
        ours[key] = {"articleBody": (art or {}).get("text") or ""}
        t0 = time.perf_counter()
        theirs[key] = {"articleBody": trafilatura.extract(html, include_comments=False) or ""}
        seconds["trafilatura"] += time.perf_counter() - t0
    truth = {k: v for k, v in truth.items() if k in pages}
    print(f"{'':<14} {'F1':>6} {'precision':>10} {'recall':>7} {'ms/page':>8}")
    f1 = {}
    for name, pred in (("newswatch", ours), ("trafilatura", theirs)):
        m = scorer.evaluate(truth, pred, args.n_bootstrap)
        f1[name] = m["f1"]
        print(f"{name:<14} {m['f1']:6.3f} {m['precision']:10.3f} {m['recall']:7.3f} "
              f"{1000 * seconds[name] / len(pages):8.1f}")
    print(f"ratio F1 newswatch / trafilatura: {f1['newswatch'] / f1['trafilatura']:.3f}  (target F1 >= 0.965)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
