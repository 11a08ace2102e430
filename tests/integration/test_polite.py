"""Crawling politely, as seen by the servers: three loopback hosts (127.0.0.1, .2, .3) serving 300 pages; robots.txt
obeyed (disallowed paths never requested, Crawl-delay kept), at most N requests at once per host, a minimum delay
between requests to one host, the total concurrency spread over the hosts, Retry-After as a per-host backoff."""
from __future__ import annotations

import time

import pytest

from newswatch.connectors.es import Indices
from newswatch.sampleserver import RecordingSite, filler_page

pytestmark = pytest.mark.integration
TOLERANCE = 0.01  # seconds: the server stamps a request a little after the client started it


def _feed(site: RecordingSite, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def _gaps(starts: list[float]) -> list[float]:
    return [b - a for a, b in zip(starts, starts[1:])]


def _assert_paced(starts: list[float], delay: float, what) -> None:
    """Requests start ``delay`` apart as the server sees them: a late stamp on a loaded machine shortens one gap
    and lengthens the next, so single gaps get half the delay and every run of four gaps the full pace."""
    gaps = _gaps(sorted(starts))
    assert min(gaps) >= delay / 2, (what, min(gaps))
    spans = [sum(gaps[i:i + 4]) for i in range(len(gaps) - 3)]
    assert min(spans) >= 4 * delay - 2 * TOLERANCE, (what, min(spans))


def _overlap(sites: list[RecordingSite]) -> int:
    """Most requests in flight at once over all the sites."""
    events = sorted((t, d) for s in sites for _, a, b in s.log for t, d in ((a, 1), (b, -1)))
    now = peak = 0
    for _, d in events:
        now += d
        peak = max(peak, now)
    return peak


@pytest.mark.heavy
def test_three_hosts_paced_robots_obeyed_listed_feeds_fetched(settings, es_client, tmp_path, prefect_harness):
    from newswatch.flows.ingest import ingest_flow

    s = settings.with_(per_host_concurrency=2, per_host_delay=0.04, fetch_concurrency=16,
                       user_agent="newswatch-test/1.0 (+https://example.org/newswatch)")
    robots = {
        # host 1 keeps /private/ to itself; host 2 asks for a Crawl-delay; host 3 has no robots.txt at all,
        # and host 2's robots.txt disallows its feed's directory: the feed the user listed is fetched anyway
        0: b"User-agent: *\nDisallow: /private/\n",
        1: b"User-agent: newswatch-test\nCrawl-delay: 0.08\nDisallow: /feeds/\n\nUser-agent: *\nDisallow: /\n",
        2: None,
    }
    sites, feeds = [], []
    for k, host in enumerate(("127.0.0.1", "127.0.0.2", "127.0.0.3")):
        paths = [f"/news/{k}-{i}.html" for i in range(100)]
        if k == 0:
            paths[::10] = [f"/private/{k}-{i}.html" for i in range(10)]
        pages = {p: filler_page(f"Story {p}", seed=hash(p) & 0xFFFF) for p in paths}
        if robots[k] is not None:
            pages["/robots.txt"] = robots[k]
        site = RecordingSite(host, pages, latency=0.1).__enter__()
        feed_path = "/feeds/all.xml"
        site.pages[feed_path] = _feed(site, paths)
        sites.append(site)
        feeds.append(site.url(feed_path))
    try:
        feeds_file = tmp_path / "feeds.txt"
        feeds_file.write_text("\n".join(feeds) + "\n")
        summary = ingest_flow(str(feeds_file), overrides=s.public())
    finally:
        for site in sites:
            site.__exit__()

    for site in sites:
        assert site.hits["/feeds/all.xml"] == 1, "the listed feed is fetched as listed, robots.txt or not"
        assert site.hits["/robots.txt"] == 1, "robots.txt once per host"
        assert site.max_active <= 2, (site.base_url, site.max_active)
    assert not [p for p in sites[0].hits if p.startswith("/private/")], "disallowed pages are never requested"
    assert sites[0].max_active == 2 and sites[2].max_active == 2, "the per-host limit is used, not undercut"

    # a minimum delay between two requests to one host, the Crawl-delay where robots.txt asks for more
    for site, delay in ((sites[0], 0.04), (sites[2], 0.04)):
        _assert_paced(site.starts(exclude=("/feeds/all.xml",)), delay, site.base_url)
    page_starts = [t for p, t, _ in sites[1].log if p.startswith("/news/")]
    _assert_paced(page_starts, 0.08, sites[1].base_url)
    assert _overlap(sites) >= 4, "the fetch threads spread over the hosts"

    ix = Indices(s)
    es_client.indices.refresh(index=f"{ix.stories},{ix.errors}")
    errors = [h["_source"] for h in es_client.search(index=ix.errors, size=100)["hits"]["hits"]]
    robots_errors = sorted(e["url"] for e in errors if e["error_type"] == "robots")
    assert robots_errors == sorted(sites[0].url(f"/private/0-{i}.html") for i in range(10))
    assert all("robots.txt" in e["reason"] for e in errors if e["error_type"] == "robots")
    assert summary["counts"]["indexed"] == 290 and summary["counts"]["failed"] == 10, summary["counts"]


def test_retry_after_is_a_per_host_backoff_and_an_unreachable_robots_txt_blocks_the_host(settings):
    from newswatch.connectors.http import FetchError, Fetcher
    from newswatch.connectors.polite import PoliteFetcher

    s = settings.with_(per_host_concurrency=2, per_host_delay=0.0, fetch_concurrency=8, max_host_backoff=30.0)

    def slow_down(handler, n):
        if n == 1:
            return handler.send(429, b"slow down", headers={"Retry-After": "1"})
        handler.send(200, filler_page("ok", 1), "text/html")

    def come_back_tomorrow(handler, n):
        handler.send(429, b"tomorrow", headers={"Retry-After": "86400"})

    def robots_down(handler, n):
        handler.send(503, b"maintenance")

    a = RecordingSite("127.0.0.1", {f"/a/{i}.html": filler_page("a", i) for i in range(12)},
                      routes={"/a/first.html": slow_down})
    b = RecordingSite("127.0.0.2", {f"/b/{i}.html": filler_page("b", i) for i in range(12)}, latency=0.1)
    c = RecordingSite("127.0.0.3", {f"/c/{i}.html": filler_page("c", i) for i in range(5)},
                      routes={"/c/first.html": come_back_tomorrow})
    d = RecordingSite("127.0.0.1", {f"/d/{i}.html": filler_page("d", i) for i in range(3)},
                      routes={"/robots.txt": robots_down})
    with a, b, c, d:
        fetcher = PoliteFetcher(Fetcher(s))
        futures = {}
        for site, prefix in ((a, "a"), (c, "c"), (d, "d")):
            futures[site.url(f"/{prefix}/first.html")] = fetcher.submit(site.url(f"/{prefix}/first.html"))
        time.sleep(0.3)  # the 429s are in
        urls = [x.url(f"/{p}/{i}.html") for x, p, n in ((a, "a", 12), (b, "b", 12), (c, "c", 5), (d, "d", 3))
                for i in range(n)]
        futures.update({u: fetcher.submit(u) for u in urls})
        results = {}
        for u, f in futures.items():
            try:
                results[u] = f.result(timeout=30).status
            except FetchError as exc:
                results[u] = exc.kind, exc.status
        fetcher.shutdown()
    # host a: after its 429 no request for the second it asked, then every page (the first one again too)
    refused_at = next(t for p, t, _ in a.log if p == "/a/first.html")
    after = [t for p, t, _ in a.log if p != "/robots.txt" and t > refused_at]
    assert after and min(after) - refused_at >= 1.0 - TOLERANCE, min(after) - refused_at
    assert all(results[a.url(f"/a/{i}.html")] == 200 for i in range(12)) and results[a.url("/a/first.html")] == 200
    # host b went on meanwhile
    assert any(refused_at < t < refused_at + 1.0 for _, t, _ in b.log)
    assert all(results[b.url(f"/b/{i}.html")] == 200 for i in range(12))
    # host c asked for a day: its pages are left for a later run, after one refused request
    assert c.hits["/c/first.html"] == 1 and sum(c.hits[f"/c/{i}.html"] for i in range(5)) == 0
    assert all(results[c.url(f"/c/{i}.html")] == ("rate_limited", 429) for i in range(5))
    # host d's robots.txt is unavailable (503): nothing fetched from it
    assert set(d.hits) == {"/robots.txt"}
    assert all(results[d.url(f"/d/{i}.html")] == ("robots", 503) for i in range(3))
