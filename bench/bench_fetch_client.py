"""CPU per page of the fetch client: newswatch's ``Fetcher`` (libcurl) against a bare urllib3 client.

    .venv/bin/python bench/bench_fetch_client.py [--n 2000] [--rounds 2]

The corpus pages are served from a separate process on loopback (as in ``bench_pipeline.py``), so the CPU
measured here (``os.times`` of this process) is the client's alone. Each client runs in turn, with one thread and
with the pipeline's fetch concurrency (16 threads), ``--rounds`` times; the best round of each is printed, as ms
of CPU per page and as a ratio to the urllib3 client.

The reference is a bare ``urllib3.PoolManager`` GET (urllib3 and ``http.client``, pure Python; the ES client
uses it too): the least a pure-Python client costs, without the address check, limits and redirect handling
that the ``Fetcher`` adds. Until the third performance session the ``Fetcher`` ran on urllib3 and cost
0.64-0.89 ms per page here, more than the bare client.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import Corpus  # noqa: E402

import urllib3  # noqa: E402

from newswatch.connectors.http import Fetcher  # noqa: E402
from newswatch.settings import Settings  # noqa: E402


def _cpu_per_page(get, urls: list[str], threads: int) -> float:
    c0 = os.times()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, urls))
    c1 = os.times()
    return (c1.user - c0.user + c1.system - c0.system) / len(urls) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    s = Settings.from_env(allow_loopback=True)
    corpus = Corpus(args.n)
    try:
        urls = [corpus.base_url + p for p in corpus.pages]
        fetcher = Fetcher(s)
        pool = urllib3.PoolManager(maxsize=s.fetch_concurrency, retries=False)

        def bare(url: str) -> bytes:
            return pool.request("GET", url, headers={"User-Agent": s.user_agent}).data

        if fetcher.get(urls[0]).body != bare(urls[0]):
            print("the two clients returned different bodies")
            return 1
        clients = {"urllib3 PoolManager (bare)": bare, "newswatch Fetcher (libcurl)": lambda u: fetcher.get(u)}
        best: dict[tuple[str, int], float] = {}
        for _ in range(args.rounds):
            for name, get in clients.items():
                for threads in (1, s.fetch_concurrency):
                    key = (name, threads)
                    best[key] = min(best.get(key, 1e9), _cpu_per_page(get, urls, threads))
    finally:
        corpus.close()
    print(f"fetch client CPU per page, {len(urls)} loopback pages, best of {args.rounds} rounds")
    print(f"{'client':30} {'threads':>7} {'ms/page':>8} {'x urllib3':>10}")
    for (name, threads), ms in best.items():
        ref = best[("urllib3 PoolManager (bare)", threads)]
        print(f"{name:30} {threads:>7} {ms:8.3f} {ms / ref:10.2f}")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
