"""CPU per page of the fetch client: newswatch's ``Fetcher`` (urllib3) against a minimal libcurl client.

    .venv/bin/pip install pycurl          # not a dependency of newswatch; this measures whether it should be
    .venv/bin/python bench/bench_fetch_client.py [--n 2000] [--rounds 2]

The corpus pages are served from a separate process on loopback (as in ``bench_pipeline.py``), so the CPU
measured here (``os.times`` of this process) is the client's alone. Both clients are run in turn, one thread and
16 threads (the pipeline's fetch concurrency), ``--rounds`` times; the best round of each is printed, with the
curl client's CPU as a ratio of the ``Fetcher``'s.

The curl client does what a replacement would have to do at the least: check every address it connects to
against newswatch's address policy (``OPENSOCKETFUNCTION``), cap the decoded body, keep total and connect
deadlines, no proxies from the environment, http/https only, one handle per thread (connection reuse). It does
not follow redirects or map errors to newswatch's error kinds: enough to price the work, not a fetcher.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import Corpus  # noqa: E402

from newswatch.connectors.http import AddressPolicy, Fetcher  # noqa: E402
from newswatch.settings import Settings  # noqa: E402


class CurlClient:
    def __init__(self, policy: AddressPolicy, max_bytes: int, total_timeout: float, connect_timeout: float):
        import pycurl

        self.pycurl = pycurl
        self.policy, self.max_bytes = policy, max_bytes
        self.total_ms, self.connect_ms = int(total_timeout * 1000), int(connect_timeout * 1000)
        self.local = threading.local()

    def _open(self, purpose, address):
        family, socktype, protocol, addr = address
        if self.policy.check(addr[0]):
            return self.pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)

    def _handle(self):
        c = getattr(self.local, "c", None)
        if c is None:
            pc = self.pycurl
            c = self.local.c = pc.Curl()
            c.setopt(pc.OPENSOCKETFUNCTION, self._open)
            c.setopt(pc.ACCEPT_ENCODING, "gzip, deflate")
            c.setopt(pc.CONNECTTIMEOUT_MS, self.connect_ms)
            c.setopt(pc.TIMEOUT_MS, self.total_ms)
            c.setopt(pc.NOSIGNAL, 1)
            c.setopt(pc.PROXY, "")
            c.setopt(pc.PROTOCOLS, pc.PROTO_HTTP | pc.PROTO_HTTPS)
            c.setopt(pc.HTTPHEADER, ["User-Agent: newswatch-bench",
                                     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"])
        return c

    def get(self, url: str) -> tuple[int, dict, bytes]:
        c = self._handle()
        chunks: list[bytes] = []
        lines: list[bytes] = []
        total = 0
        cap = self.max_bytes

        def write(data: bytes):
            nonlocal total
            total += len(data)
            if total > cap:
                return -1  # abort: too large (decoded bytes, so a gzip bomb stops here too)
            chunks.append(data)
            return None

        c.setopt(self.pycurl.URL, url)
        c.setopt(self.pycurl.WRITEFUNCTION, write)
        c.setopt(self.pycurl.HEADERFUNCTION, lines.append)
        c.perform()
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.decode("latin-1").partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        return c.getinfo(self.pycurl.RESPONSE_CODE), headers, b"".join(chunks)


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
    if importlib.util.find_spec("pycurl") is None:
        print("pycurl is not installed (`.venv/bin/pip install pycurl`); nothing to compare")
        return 1
    s = Settings.from_env(allow_loopback=True)
    corpus = Corpus(args.n)
    try:
        urls = [corpus.base_url + p for p in corpus.pages]
        fetcher = Fetcher(s)
        curl = CurlClient(AddressPolicy(s.allow_private_addresses, s.allow_loopback), s.max_page_bytes,
                          s.fetch_total_timeout, min(10.0, s.fetch_timeout))
        if fetcher.get(urls[0]).body != curl.get(urls[0])[2]:
            print("the two clients returned different bodies")
            return 1
        clients = {"newswatch Fetcher (urllib3)": lambda u: fetcher.get(u), "libcurl (pycurl)": curl.get}
        best: dict[tuple[str, int], float] = {}
        for _ in range(args.rounds):
            for name, get in clients.items():
                for threads in (1, s.fetch_concurrency):
                    key = (name, threads)
                    best[key] = min(best.get(key, 1e9), _cpu_per_page(get, urls, threads))
    finally:
        corpus.close()
    print(f"fetch client CPU per page, {len(urls)} loopback pages, best of {args.rounds} rounds")
    print(f"{'client':30} {'threads':>7} {'ms/page':>8} {'x Fetcher':>10}")
    for (name, threads), ms in best.items():
        ref = best[("newswatch Fetcher (urllib3)", threads)]
        print(f"{name:30} {threads:>7} {ms:8.3f} {ms / ref:10.2f}")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
