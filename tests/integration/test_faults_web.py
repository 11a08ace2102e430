"""Fault injection: a hostile web and hostile feeds, against the real fetcher, feed poller and pipeline."""
from __future__ import annotations

import time
import tracemalloc

import pytest

from newswatch.connectors.es import Indices
from newswatch.connectors.feeds import poll_feed
from newswatch.connectors.http import Fetcher, FetchError, ForbiddenAddress

pytestmark = pytest.mark.integration

# path -> (expected error kind, or None if the page must be indexed)
WEB_FAULTS = {
    "slow-loris": "timeout",
    "huge-length": "too_large",
    "gzip-bomb": "too_large",
    "redirect-loop": "redirect_loop",
    "redirect-metadata": "forbidden_address",
    "redirect-private": "forbidden_address",
    "pdf": "content_type",
    "image": "content_type",
    "empty": "no_text",
    "error-500": "http_error",
    # (a 429 asking for a day leaves the host's other pages for a later run: tests/integration/test_polite.py)
    "rate-limited": None,  # 429 + Retry-After: 1 -> polite retry succeeds
    "wrong-charset": None,
    "no-charset": None,
    "latin1-declared": None,
    "redirect-ok": None,
    "redirect-credentials": None,  # stored (and fetched) without the credentials the redirect carries
    "good-1": None,
}


@pytest.fixture(scope="module")
def hostile():
    from servers import HostileServer

    with HostileServer() as server:
        yield server


@pytest.fixture()
def fast_settings(settings):
    return settings.with_(fetch_timeout=2.0, fetch_total_timeout=3.0, max_page_bytes=2 * 1024 * 1024)


def test_gzip_bomb_stops_at_the_cap_with_bounded_memory(hostile, fast_settings, fault_report):
    # the size cap is what is tested: a deadline that tracemalloc on a busy machine cannot reach first
    fetcher = Fetcher(fast_settings.with_(fetch_timeout=30.0, fetch_total_timeout=60.0))
    tracemalloc.start()
    with pytest.raises(FetchError) as err:
        fetcher.get(hostile.url("gzip-bomb"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert err.value.kind == "too_large"
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while reading a 200 MB gzip bomb"
    fault_report("gzip bomb (200 MB inflated)", injected=1, survived=1, lost=0, note=f"peak {peak / 1e6:.1f} MB")


def test_slow_loris_is_cut_at_the_total_deadline(hostile, fast_settings, fault_report):
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        Fetcher(fast_settings).get(hostile.url("slow-loris"))
    elapsed = time.monotonic() - started
    assert err.value.kind == "timeout"
    assert elapsed < fast_settings.fetch_total_timeout + fast_settings.fetch_timeout + 1
    fault_report("slow loris", injected=1, survived=1, lost=0, note=f"cut after {elapsed:.1f}s")


def test_ssrf_guard_applies_after_dns_and_on_every_redirect(hostile, settings):
    strict = settings.with_(allow_loopback=False)
    with pytest.raises(ForbiddenAddress, match="loopback"):
        Fetcher(strict).get(hostile.url("good-1").replace("127.0.0.1", "localhost"))  # a name, not an IP
    with pytest.raises(ForbiddenAddress, match="loopback"):
        Fetcher(strict).get(hostile.url("good-1"))
    # loopback allowed (the test server is there), but redirects into internal ranges are not
    with pytest.raises(ForbiddenAddress, match="link-local"):
        Fetcher(settings).get(hostile.url("redirect-metadata"))
    with pytest.raises(ForbiddenAddress, match="private"):
        Fetcher(settings).get(hostile.url("redirect-private"))
    # a redirect to a name resolving to loopback is refused when loopback is not allowed
    before = hostile.hits.get("/good-1", 0)
    with pytest.raises(ForbiddenAddress):
        Fetcher(strict.with_(allow_private_addresses=False)).get(hostile.url("redirect-localhost-name"))
    assert hostile.hits.get("/good-1", 0) == before


def test_rate_limit_is_retried_politely_or_reported(hostile, settings):
    resp = Fetcher(settings).get(hostile.url("rate-limited"))
    assert resp.status == 200 and b"Uzbekistan" in resp.body
    with pytest.raises(FetchError) as err:
        Fetcher(settings).get(hostile.url("rate-limited-long"))
    assert err.value.status == 429 and "retry after 86400s" in err.value.reason


def test_hostile_feeds_are_parsed_safely(hostile, settings, fault_report):
    fetcher = Fetcher(settings)
    html = poll_feed(fetcher, hostile.url("html-feed"))
    assert html.status == "error" and html.error_kind in ("not_a_feed", "malformed_feed")
    started = time.monotonic()
    big = poll_feed(fetcher, hostile.url("big-feed"))
    assert big.status == "ok" and len(big.entries) == 5000
    assert any("10000 entries" in r["reason"] for r in big.rejected_entries)
    bad = poll_feed(fetcher, hostile.url("bad-links-feed"))
    assert bad.status == "ok"
    assert sorted(e.link.rsplit("/", 1)[-1] for e in bad.entries) == ["good-1", "good-2"], \
        "duplicate GUIDs with different links are different stories"
    assert len(bad.rejected_entries) == 3
    fault_report("hostile feeds (HTML, 10k entries, bad links)", injected=3, survived=3, lost=0,
                 note=f"10k-entry feed parsed in {time.monotonic() - started:.1f}s")


def _ingest_feed_of(hostile, settings, tmp_path, es_client, name: str, pages: list[str]):
    """One ingest run over a feed (served at ``name``) that lists the hostile server's ``pages``; returns the run
    summary, the stored stories and the error records, each keyed by the last segment of its (feed link's) URL."""
    from newswatch.flows.ingest import ingest_flow

    body = hostile.feed(pages).encode()
    setattr(type(hostile), "route_" + name.replace("-", "_"),
            lambda self, h, n, base: h._send(200, body, "application/rss+xml"))
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(hostile.url(name) + "\n")
    summary = ingest_flow(str(feeds), overrides=settings.public())
    ix = Indices(settings)
    es_client.indices.refresh(index=f"{ix.stories},{ix.errors}")
    stored = {h["_source"]["canonical_url"].rsplit("/", 1)[-1]: h["_source"] for h in
              es_client.search(index=ix.stories, size=50)["hits"]["hits"]}
    errors = {h["_source"]["url"].rsplit("/", 1)[-1]: h["_source"] for h in
              es_client.search(index=ix.errors, size=50)["hits"]["hits"] if h["_source"]["url"]}
    return summary, stored, errors


def test_pipeline_survives_every_web_fault(hostile, fast_settings, tmp_path, prefect_harness, es_client,
                                           fault_report):
    started = time.monotonic()
    summary, stored, errors = _ingest_feed_of(hostile, fast_settings, tmp_path, es_client, "faults-feed",
                                              list(WEB_FAULTS))
    elapsed = time.monotonic() - started
    expect_ok = [p for p, kind in WEB_FAULTS.items() if kind is None]
    expect_err = {p: kind for p, kind in WEB_FAULTS.items() if kind}
    assert set(stored) == set(expect_ok), "every good page indexed (keyed by the feed link's canonical URL)"
    assert stored["redirect-ok"]["url"].endswith("/good-1"), "the URL after redirects is kept"
    assert stored["redirect-credentials"]["url"] == hostile.url("good-2"), "without the redirect's credentials"
    assert hostile.authorized == [], "no request carried credentials"
    for path, kind in expect_err.items():
        assert path in errors, f"{path}: no error record"
        assert errors[path]["error_type"] == kind, (path, errors[path])
        assert errors[path]["reason"]
    # encodings: no mojibake in the stored text
    assert "Türkiye" in stored["wrong-charset"]["title"] and "â€" not in stored["wrong-charset"]["text"]
    assert "Café" in stored["latin1-declared"]["title"]
    assert summary["counts"]["failed"] == len(expect_err)
    assert summary["counts"]["indexed"] == len(expect_ok)
    fault_report("hostile web in one run", injected=len(expect_err), survived=len(expect_err), lost=0,
                 note=f"{summary['counts']['indexed']} good pages indexed, run took {elapsed:.1f}s")


def test_https_certificates_are_verified(tmp_path, settings):
    """A page over TLS is fetched only from a server whose certificate chain the CA bundle trusts: a self-signed
    server on loopback is refused (connection_error), never read."""
    import datetime as dt
    import http.server
    import ipaddress
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                                         serialization.NoEncryption()))
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            served.append(self.path)
            body = b"<html><body><p>secret</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(FetchError) as err:
            Fetcher(settings).get(f"https://127.0.0.1:{httpd.server_address[1]}/page")
        assert err.value.kind == "connection_error"
        assert "certificate" in err.value.reason.lower() or "ssl" in err.value.reason.lower()
        assert served == []
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_urls_and_validators_outside_ascii_are_sent_encoded(hostile, settings):
    """A link with spaces or non-ASCII characters is percent-encoded on the wire (as a browser does), and a
    validator a server once sent (a Latin-1 ETag) goes back as it came: neither stops a fetch or a feed poll."""
    before = dict(hostile.hits)
    resp = Fetcher(settings).get(hostile.url("good-1") + "?q=café au lait")
    assert resp.status == 200 and b"Kazakhstan" in resp.body
    assert resp.url.endswith("?q=café au lait")  # the page keeps the URL it was linked as
    assert hostile.hits.get("/good-1", 0) == before.get("/good-1", 0) + 1
    resp = Fetcher(settings).get(hostile.url("good-1"), headers={"If-None-Match": '"café"'})
    assert resp.status == 200
    with pytest.raises(FetchError) as err:
        Fetcher(settings).get("http://[::1/broken")
    assert err.value.kind == "bad_url"


BOGUS_CHARSETS = ["charset-undefined", "charset-idna", "charset-punycode"]


@pytest.mark.parametrize("cpu_workers", [0, 2])
def test_a_bogus_charset_never_stops_the_run(hostile, fast_settings, tmp_path, prefect_harness, es_client,
                                             cpu_workers):
    """`charset=undefined` / `idna` / `punycode` name codecs Python has but that cannot decode a page: such a
    page is decoded as if it declared nothing, inline (no extraction workers) and in a worker process alike."""
    s = fast_settings.with_(cpu_workers=cpu_workers)
    summary, stored, errors = _ingest_feed_of(hostile, s, tmp_path, es_client, "charset-feed",
                                              BOGUS_CHARSETS + ["good-1"])
    assert sorted(stored) == sorted(BOGUS_CHARSETS + ["good-1"]), (summary, errors)
    for path in BOGUS_CHARSETS:
        assert "Казахстан" in stored[path]["title"], (path, stored[path]["title"])
    assert summary["counts"]["indexed"] == 4 and summary["counts"]["failed"] == 0, summary


@pytest.mark.parametrize("cpu_workers", [0, 2])
def test_a_page_over_its_budget_is_a_dead_letter_and_the_run_goes_on(hostile, fast_settings, tmp_path,
                                                                    prefect_harness, es_client, cpu_workers):
    """A page of 600,000 elements is refused by its tag count in every worker mode (before it is parsed); in the
    extraction worker processes a page that takes more CPU than its budget is interrupted. The good page next to
    them is indexed and the run completes."""
    s = fast_settings.with_(cpu_workers=cpu_workers, max_page_bytes=6 * 1024 * 1024, page_cpu_seconds=0.3)
    pages = ["tag-flood", "good-1"] + (["slow-tree"] if cpu_workers else [])
    summary, stored, errors = _ingest_feed_of(hostile, s, tmp_path, es_client, "budget-feed", pages)
    assert sorted(stored) == ["good-1"], (summary, errors)
    flood = errors["tag-flood"]
    assert flood["stage"] == "extract" and flood["error_type"] == "over_budget_tags"
    assert "1,200,010 tags" in flood["reason"] and "NEWSWATCH_PAGE_MAX_TAGS" in flood["reason"]
    if cpu_workers:
        slow = errors["slow-tree"]
        assert slow["stage"] == "extract" and slow["error_type"] == "over_budget_cpu", slow
        assert "s of CPU, over the per-page budget of 0.3 s" in slow["reason"]
    assert summary["status"] == "completed_with_errors" and summary["counts"]["indexed"] == 1
