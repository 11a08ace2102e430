"""The named-entity stage (Stanford CoreNLP service) alone, and the pipeline end to end with it.

    .venv/bin/python bench/bench_ner.py              # 600 pages
    .venv/bin/python bench/bench_ner.py --n 300

Reports: the NER stage alone (stories/s with one request of 8 stories at a time per extraction worker, as the
pipeline sends them), end to end with NER (target: at least 0.8 x the stage alone, the rest of the pipeline
overlapping the service), the service's resident memory, and a second run over unchanged feeds as a share of
the first (target < 5 %). Uses $NEWSWATCH_NLP_URL, else starts the local service; $ES_URL, else the local node.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import Corpus  # noqa: E402

from newswatch.settings import Settings  # noqa: E402

BATCH = 8


def _settings() -> Settings:
    s = Settings.from_env(allow_loopback=True, ner="corenlp")
    if not s.es_url:
        from newswatch.connectors import es_local

        es_local.start(s)
        s = s.with_(es_url=s.local_es_url)
    if not s.nlp_url:
        from newswatch.connectors import nlp_local

        nlp_local.start(s)
    return s.with_(index_prefix=f"nwbench-{uuid.uuid4().hex[:6]}")


def _rss_mb(s: Settings) -> float | None:
    from newswatch.connectors.nlp_local import _read_pid

    pid = _read_pid(s) if not s.nlp_url else None
    if not pid:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def bench_stage(texts: list[str], s: Settings, workers: int) -> float:
    """Seconds to recognise ``texts`` in batches of BATCH, ``workers`` requests at a time (one client each)."""
    from newswatch.connectors.nlp import NlpClient

    clients = [NlpClient(s.nlp_config) for _ in range(workers)]
    batches = [texts[i:i + BATCH] for i in range(0, len(texts), BATCH)]
    for c in clients:
        c.spans(texts[:2])  # a warm connection and a warm JIT
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda k: clients[k % workers].spans(batches[k]), range(len(batches))))
    elapsed = time.perf_counter() - t
    if any(r is None for r in results):
        raise SystemExit(f"the service failed: {clients[0].last_error}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600)
    args = ap.parse_args()
    from prefect import flow

    from newswatch.connectors import es as esc
    from newswatch.extraction import full_text, html_to_article
    from newswatch.flows.ingest import run_ingest
    from newswatch.pipelines.cpu_pool import available_cores

    s = _settings()
    workers = s.cpu_workers or available_cores()
    corpus = Corpus(args.n, feeds=10)
    try:
        arts = [html_to_article(p) for p in corpus.pages.values()]
        texts = [full_text(a.get("title"), a.get("text")) for a in arts if a]
        chars = sum(map(len, texts)) / len(texts)
        t_stage = bench_stage(texts, s, workers)

        @flow
        def warm():
            return 1

        warm()
        es = esc.make_client(s)
        esc.ensure_indices(es, s)
        feeds = corpus.write_feeds_file(Path(tempfile.mkdtemp()) / "feeds.txt")
        t = time.perf_counter()
        first = run_ingest(str(feeds), beam_args=[], overrides=s.public())
        t_e2e = time.perf_counter() - t
        t = time.perf_counter()
        second = run_ingest(str(feeds), beam_args=[], overrides=s.public())
        t_second = time.perf_counter() - t
        ner = es.search(index=s.index("stories"), size=0, aggs={"ner": {"terms": {"field": "ner"}}})
        by = {b["key"]: b["doc_count"] for b in ner["aggregations"]["ner"]["buckets"]}
        for name in es.indices.get(index=f"{s.index_prefix}-*", expand_wildcards="all"):
            es.indices.delete(index=name)
    finally:
        corpus.close()
    n = len(texts)
    stage, e2e = n / t_stage, first["counts"]["indexed"] / t_e2e
    rss = _rss_mb(s)
    print(f"\n{n} pages, {chars:,.0f} characters each on average; {workers} extraction workers, one request of "
          f"{BATCH} stories at a time each; service {s.effective_nlp_url}")
    print("| measurement | stories/s | × NER stage |\n|---|---:|---:|")
    print(f"| NER stage alone ({workers} concurrent requests) | {stage:,.1f} | 1.00 |")
    print(f"| **end to end with NER** ({first['counts']['indexed']} indexed: {by}) | **{e2e:,.1f}** | "
          f"**{e2e / stage:.2f}** (target ≥ 0.8) |")
    print(f"\nsecond run over unchanged feeds: {t_second:.2f} s = {100 * t_second / t_e2e:.1f} % of the first "
          f"(target < 5 %; status {second['status']})")
    print(f"service resident memory: {rss:,.0f} MB" if rss else "service resident memory: (not a local service)")


if __name__ == "__main__":
    main()
