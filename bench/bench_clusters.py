"""Syndicated-copy check: cost per story as the index grows.

Indexes N synthetic stories (distinct texts: words drawn from a Zipf law over a vocabulary, with stock phrases
every news text has, of 120-700 words; one in ten is an edited copy of another), then runs the check of
:mod:`newswatch.clustering` on a batch of new stories, a third of them edited copies of indexed ones, and
reports: fingerprint cost (CPU, per story), check cost (the candidate queries, verification and cluster
updates, per story) and the copies found. Run it at two sizes to see that the check stays flat:

    .venv/bin/python bench/bench_clusters.py --sizes 2000 10000

Uses $ES_URL, else the local test node on 127.0.0.1:9250 (or starts the local node).
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import datetime, timezone

from newswatch.clustering import cluster_stories
from newswatch.connectors import es as esc
from newswatch.connectors import es_local
from newswatch.extraction.neardup import fingerprint
from newswatch.settings import Settings

STOCK = ["said in a statement on", "according to the ministry of", "the government said on", "told reporters on",
         "in the first half of the year", "the project is expected to", "billion in the next five years",
         "the president of the country said", "a spokesman for the bank said", "officials said the agreement",
         "analysts said the deal would", "the central bank said it", "percent of gross domestic product",
         "did not respond to a request for comment", "in a statement published on its website"]


def _vocab(rng: random.Random, n: int = 20000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(n)]


def _text(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    n = rng.randint(120, 700)
    words = rng.choices(vocab, weights=weights, k=n)
    for _ in range(n // 60):  # stock phrases every news text has
        at = rng.randrange(len(words))
        words[at:at] = rng.choice(STOCK).split()
    return " ".join(words)


def _edit(rng: random.Random, text: str, vocab: list[str]) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 50)):  # a few words changed
        words[rng.randrange(len(words))] = rng.choice(vocab)
    cut = len(words) // 10  # the last tenth dropped, a paragraph of the outlet's own added
    return " ".join(words[: len(words) - cut] + rng.choices(vocab, k=rng.randint(10, 60)))


def _doc(sid: str, text: str, site: str) -> dict:
    now = datetime.now(timezone.utc).isoformat()
    return {"_id": sid, "id": sid, "url": f"http://{site}/{sid}", "canonical_url": f"http://{site}/{sid}",
            "site": site, "text": text, "fetched_at": now, "ingested_at": now, "published_at": now,
            "extraction_version": "bench", "cluster_id": sid, "cluster_size": 1, "cluster_lead": True,
            "cluster_sites": [site], "cluster_urls": [f"http://{site}/{sid}"], **fingerprint(text)}


def run(settings: Settings, size: int, batch: int, seed: int) -> dict:
    rng = random.Random(seed)
    vocab = _vocab(rng)
    weights = [1 / (r + 1) for r in range(len(vocab))]
    es = esc.make_client(settings)
    esc.ensure_indices(es, settings)
    texts: list[str] = []
    docs = []
    for i in range(size):
        text = _edit(rng, rng.choice(texts), vocab) if texts and i % 10 == 9 else _text(rng, vocab, weights)
        texts.append(text)
        docs.append(_doc(f"old-{i}", text, f"site{i % 50}"))
    esc.bulk_write(es, settings.index("stories"), docs, chunk_size=500)
    es.indices.refresh(index=settings.index("stories"))
    # the first pass clusters the indexed copies (as their runs would have); it is not measured
    cluster_stories(es, settings, [d["_id"] for d in docs])
    new_texts = [_edit(rng, rng.choice(texts), vocab) if k % 3 == 0 else _text(rng, vocab, weights)
                 for k in range(batch)]
    started = time.process_time()
    new_docs = [_doc(f"new-{k}", t, f"site{k % 7}") for k, t in enumerate(new_texts)]
    fp_ms = (time.process_time() - started) * 1000 / batch
    esc.bulk_write(es, settings.index("stories"), new_docs, chunk_size=500)
    es.indices.refresh(index=settings.index("stories"))
    started = time.perf_counter()
    stats = cluster_stories(es, settings, [d["_id"] for d in new_docs])
    check_ms = (time.perf_counter() - started) * 1000 / batch
    return {"size": size, "fingerprint_ms": fp_ms, "check_ms": check_ms, "copies_planted": (batch + 2) // 3,
            "in_clusters": stats["in_clusters"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--batch", type=int, default=300, help="new stories checked per measurement")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    s = Settings.from_env()
    if not s.es_url:
        s = s.with_(es_port=9250)
        if not es_local._health(s.local_es_url):
            es_local.start(s)
        s = s.with_(es_url=s.local_es_url)
    es = esc.make_client(s)
    print(f"{'stories':>8} {'fingerprint ms':>15} {'check ms/story':>15} {'copies planted':>15} {'in clusters':>12}")
    for size in args.sizes:
        rows = []
        for r in range(args.repeat):
            prefix = f"nwclusterbench-{uuid.uuid4().hex[:8]}"  # not nwbench-*: bench_pipeline purges those
            settings = s.with_(index_prefix=prefix)
            try:
                rows.append(run(settings, size, args.batch, seed=r))
            finally:
                names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
                if names:
                    es.indices.delete(index=",".join(names))
                es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-stories")
        med = {k: statistics.median(row[k] for row in rows) for k in ("fingerprint_ms", "check_ms")}
        print(f"{size:>8} {med['fingerprint_ms']:>15.3f} {med['check_ms']:>15.2f} {rows[0]['copies_planted']:>15} "
              f"{rows[0]['in_clusters']:>12}   (median of {len(rows)}; check ms per run: "
              f"{', '.join('%.2f' % row['check_ms'] for row in rows)})")


if __name__ == "__main__":
    main()
