"""Feed discovery and sitemap backfill against a loopback site: `newswatch feeds discover|add`, `newswatch
backfill SITE --since DATE --max N` through the same pipeline into the real Elasticsearch, politely."""
from __future__ import annotations

import gzip

import pytest

from newswatch.connectors.es import Indices
from newswatch.sampleserver import RecordingSite, filler_page

pytestmark = pytest.mark.integration


def _rss(site, title, paths):
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


@pytest.fixture()
def site():
    site = RecordingSite("127.0.0.2", latency=0.01).__enter__()
    site.pages["/"] = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss/main.xml">'
        '<link rel="alternate" type="application/atom+xml" href="/missing.atom">'
        '<link rel="alternate" type="application/rss+xml" href="/comments/feed.xml"></head>'
        "<body><h1>Home</h1></body></html>").encode()
    site.pages["/rss/main.xml"] = _rss(site, "Main news", ["/news/a.html", "/news/b.html"])
    site.pages["/comments/feed.xml"] = _rss(site, "Comments", ["/c/1"])
    yield site
    site.__exit__()


def test_feeds_discover_and_add(site, tmp_path, capsys, monkeypatch):
    from newswatch.cli import main
    from newswatch.connectors.feeds import load_feed_list

    monkeypatch.setenv("NEWSWATCH_PER_HOST_DELAY", "0.02")  # the CLI reads its settings from the environment

    assert main(["feeds", "discover", site.url("/"), "--allow-loopback"]) == 0
    out = capsys.readouterr().out
    assert site.url("/rss/main.xml") in out and "Main news" in out
    assert "comments" not in out and "missing.atom" not in out, "comment feeds and dead links are left out"

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("# my feeds\nfeeds:\n  - url: https://example.org/rss\n    name: Example\n")
    assert main(["feeds", "add", site.url("/news/a.html"), "--feeds", str(feeds), "--allow-loopback"]) == 0
    assert [s.url for s in load_feed_list(feeds)] == ["https://example.org/rss", site.url("/rss/main.xml")]
    assert load_feed_list(feeds)[1].name == "Main news" and feeds.read_text().startswith("# my feeds\n")
    capsys.readouterr()
    assert main(["feeds", "add", site.url("/rss/main.xml"), "--feeds", str(feeds), "--allow-loopback"]) == 0
    assert "0 feed(s) added" in capsys.readouterr().out and len(load_feed_list(feeds)) == 2
    text_file = tmp_path / "feeds.txt"
    assert main(["feeds", "add", site.url("/"), "--feeds", str(text_file), "--allow-loopback"]) == 0
    assert text_file.read_text() == site.url("/rss/main.xml") + "\n"
    assert main(["feeds", "discover", site.url("/nothing-here"), "--allow-loopback"]) == 0, "the home page is asked"
    with RecordingSite("127.0.0.3", {"/": b"<html><body>no feeds here</body></html>"}) as bare:
        capsys.readouterr()
        assert main(["feeds", "discover", bare.url("/"), "--allow-loopback"]) == 1
        assert "no feed found" in capsys.readouterr().out
        assert {"/", "/feed", "/rss", "/rss.xml"} <= set(bare.hits), "then the usual feed locations"


def test_backfill_from_sitemaps_since_a_date_bounded_and_polite(site, settings, es_client, prefect_harness):
    from newswatch.flows.backfill import backfill_flow

    s = settings.with_(per_host_concurrency=2, per_host_delay=0.02)
    dated = {f"/2024/{m:02d}/story-{m}-{k}.html": f"2024-{m:02d}-{10 + k}" for m in range(1, 7) for k in range(2)}
    private = {"/private/2024/06/secret.html": "2024-06-20"}
    undated = ["/undated/story.html"]
    for path in [*dated, *private, *undated]:
        site.pages[path] = filler_page(f"Story {path}", seed=hash(path) & 0xFFFF)
    site.pages["/robots.txt"] = f"User-agent: *\nDisallow: /private/\nSitemap: {site.url('/sitemap_index.xml')}\n".encode()
    news = "".join(f"<url><loc>{site.url(p)}</loc><news:news><news:publication_date>{d}T08:00:00Z"
                   f"</news:publication_date></news:news></url>" for p, d in list(dated.items())[6:])
    site.pages["/sitemap-news.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{news}'
        + "".join(f"<url><loc>{site.url(p)}</loc><lastmod>{d}</lastmod></url>" for p, d in private.items())
        + "</urlset>").encode()
    older = "".join(f"<url><loc>{site.url(p)}</loc><lastmod>{d}</lastmod></url>" for p, d in list(dated.items())[:6])
    older += "".join(f"<url><loc>{site.url(p)}</loc></url>" for p in undated)
    site.pages["/sitemap-2024-q1.xml.gz"] = gzip.compress(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{older}</urlset>'.encode())
    site.pages["/sitemap_index.xml"] = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sitemap-news.xml')}</loc></sitemap>"
        f"<sitemap><loc>{site.url('/sitemap-2024-q1.xml.gz')}</loc></sitemap></sitemapindex>").encode()

    since_march = [p for p, d in dated.items() if d >= "2024-03"]  # 8 stories
    newest5 = sorted(since_march, key=dated.get, reverse=True)[:5]
    first = backfill_flow(site.url("/"), "2024-03-01", max_stories=5, overrides=s.public())
    assert first["status"] == "ok", first
    c = first["counts"]
    assert (c["sitemaps"], c["urls_found"], c["disallowed"], c["undated"], c["selected"], c["indexed"]) == \
        (3, 14, 1, 1, 5, 5), c
    stories = es_client.search(index=Indices(s).stories, size=50)["hits"]["hits"]
    assert sorted(h["_source"]["url"] for h in stories) == sorted(site.url(p) for p in newest5)
    requested = {p for p in site.hits if p.startswith(("/2024/", "/private/", "/undated/"))}
    assert requested == set(newest5), "only the stories chosen are fetched; disallowed ones never"
    assert site.max_active <= 2

    # a second backfill goes further back, with the undated ones, and skips what is stored
    second = backfill_flow(site.url("/"), "2024-01-01", max_stories=50, include_undated=True, overrides=s.public())
    assert (second["counts"]["selected"], second["counts"]["known"], second["counts"]["indexed"]) == (13, 5, 8)
    assert not [p for p in site.hits if p.startswith("/private/")]
    assert all(site.hits[p] == 1 for p in dated)
