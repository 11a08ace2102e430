"""Polite fetching: pages/s over three loopback hosts (127.0.0.1, .2, .3) against one host, at the same settings.

300 story pages, each answered after ``--latency`` seconds, fetched through newswatch's polite fetcher (robots.txt,
at most ``--per-host`` requests at once to a host, ``--delay`` seconds between request starts to a host, 16 fetch
threads in all). With per-host limits, one host caps the rate at about min(per_host / latency, 1 / delay); spread
over three hosts the same settings should give about three times that.

    .venv/bin/python bench/bench_polite.py [--pages 300] [--per-host 2] [--delay 0.05] [--latency 0.05]
"""
from __future__ import annotations

import argparse
import statistics
import time

from newswatch.connectors.http import Fetcher
from newswatch.connectors.polite import PoliteFetcher, interleave_by_host
from newswatch.sampleserver import RecordingSite, filler_page
from newswatch.settings import Settings


def run(hosts: tuple[str, ...], n: int, settings: Settings, latency: float) -> float:
    sites = [RecordingSite(h, latency=latency).__enter__() for h in hosts]
    try:
        links = []
        for i in range(n):
            site = sites[i % len(sites)]
            path = f"/news/{i}.html"
            site.pages[path] = filler_page(f"story {i}", i)
            links.append({"link": site.url(path)})
        fetcher = PoliteFetcher(Fetcher(settings))
        started = time.perf_counter()
        futures = [fetcher.submit(x["link"]) for x in interleave_by_host(links)]
        ok = sum(f.result().status == 200 for f in futures)
        elapsed = time.perf_counter() - started
        fetcher.shutdown()
        assert ok == n, f"{ok} of {n} pages fetched"
        return n / elapsed
    finally:
        for site in sites:
            site.__exit__()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    s = Settings.from_env(allow_loopback=True).with_(per_host_concurrency=args.per_host, per_host_delay=args.delay,
                                                     fetch_concurrency=16)
    one, three = [], []
    for _ in range(args.repeat):  # alternated, so that the machine's noise hits both alike
        one.append(run(("127.0.0.1",), args.pages, s, args.latency))
        three.append(run(("127.0.0.1", "127.0.0.2", "127.0.0.3"), args.pages, s, args.latency))
    print(f"{args.pages} pages, {args.per_host} per host at once, {args.delay} s between starts to a host, "
          f"pages answered after {args.latency} s, 16 fetch threads")
    print(f"  one host:    {statistics.median(one):7.1f} pages/s  (runs: {', '.join(f'{x:.1f}' for x in one)})")
    print(f"  three hosts: {statistics.median(three):7.1f} pages/s  (runs: {', '.join(f'{x:.1f}' for x in three)})")
    print(f"  ratio:       {statistics.median(three) / statistics.median(one):7.2f} x")


if __name__ == "__main__":
    main()
