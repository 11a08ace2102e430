"""Shared fixtures: a real Elasticsearch node, Prefect in a private temp home, a loopback fixture server."""
from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("NEWSWATCH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()

# Prefect: a private home per test session (two processes sharing one SQLite file lock each other out)
_PREFECT_HOME = tempfile.mkdtemp(prefix="nw-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# exchange rates: never the real source (the rate tests serve CBR documents on loopback), and a cache of the
# session's own, so no developer's fetched rates leak into the results
os.environ.setdefault("NEWSWATCH_RATES_URL", "off")
os.environ.setdefault("NEWSWATCH_RATES_DIR", tempfile.mkdtemp(prefix="nw-rates-"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "gold.json").is_file():
        pytest.fail(f"shared fixtures not found at {FIXTURES} (set NEWSWATCH_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def gold(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / "gold.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def nlp_url():
    """A real CoreNLP named-entity service: $NEWSWATCH_NLP_URL if set, else the local one started for the session
    (reused when one answers on the test port). Exported, so CLI subprocesses use it too."""
    from newswatch.connectors import nlp_local
    from newswatch.connectors.nlp import ready
    from newswatch.settings import Settings

    if os.environ.get("NEWSWATCH_NLP_URL"):
        yield os.environ["NEWSWATCH_NLP_URL"]
        return
    s = Settings.from_env().with_(nlp_port=int(os.environ.get("NEWSWATCH_TEST_NLP_PORT", "9311")))
    started = not ready(s.local_nlp_url)
    url = nlp_local.start(s, timeout=180)
    os.environ["NEWSWATCH_NLP_URL"] = url
    yield url
    os.environ.pop("NEWSWATCH_NLP_URL", None)
    if started and os.environ.get("NEWSWATCH_TEST_KEEP_NLP") != "1":
        nlp_local.stop(s)


@pytest.fixture(scope="session")
def es_settings(nlp_url):
    """Settings pointing at a real ES: $ES_URL if set, else a local node started for the session."""
    from newswatch.connectors import es_local
    from newswatch.settings import Settings

    base = Settings.from_env()
    started = False
    if not base.es_url:
        base = base.with_(es_port=int(os.environ.get("NEWSWATCH_TEST_ES_PORT", "9250")))
        health = es_local._health(base.local_es_url)
        if not health:
            es_local.start(base, timeout=240)
            started = True
        base = base.with_(es_url=base.local_es_url)
    yield base
    if started and os.environ.get("NEWSWATCH_TEST_KEEP_ES") != "1":
        es_local.stop(base)


@pytest.fixture(scope="session")
def es_client(es_settings):
    from newswatch.connectors.es import make_client

    client = make_client(es_settings)
    client.cluster.health(wait_for_status="yellow", timeout="60s")
    return client


@pytest.fixture()
def settings(es_settings, es_client, tmp_path):
    """Per-test settings: own index prefix, own NEWSWATCH_HOME (spool, runs), loopback fetching allowed."""
    prefix = f"nwt-{uuid.uuid4().hex[:10]}"
    # per-host politeness off (the fixture pages are all on one loopback host); its own tests set it
    s = es_settings.with_(index_prefix=prefix, home=tmp_path / "home", allow_loopback=True,
                          fetch_timeout=5.0, fetch_total_timeout=10.0, per_host_concurrency=16, per_host_delay=0.0)
    yield s
    _drop_prefix(es_client, prefix)


def _drop_prefix(es_client, prefix: str) -> None:
    names = list(es_client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
    if names:
        es_client.indices.delete(index=",".join(names))
    for t in es_client.indices.get_index_template(name=f"{prefix}-*", ignore=[404]).get("index_templates", []):
        es_client.indices.delete_index_template(name=t["name"])


# dev pages the analyst corpus adds to the fixture and sample stories (a Russian deal, a tenge loan), with the
# publication dates their feed gives
ANALYST_DEV_PAGES = {"russia-kyrgyz-development-fund-1bn.html": "Mon, 01 Jul 2024 09:00:00 +0300",
                     "kz-ebrd-petropavlovsk-water-tenge-loan.html": "Thu, 01 Jan 2015 12:00:00 +0600"}


@pytest.fixture(scope="session")
def analyst_corpus(es_settings, es_client, fixture_server, prefect_harness, tmp_path_factory):
    """One read-only ingestion for the analysts' outputs (Kibana charts, export, search): the fixture feeds, the
    bundled sample feeds and a feed of two dev pages, with CBR rates served on loopback. Yields its settings."""
    from servers import CbrServer

    from newswatch.flows.ingest import ingest_flow
    from newswatch.sampleserver import SampleServer
    from newswatch.settings import PACKAGE_DATA

    tmp = tmp_path_factory.mktemp("analyst")
    prefix = f"nwt-{uuid.uuid4().hex[:10]}"
    items = "".join(f"<item><title>{name}</title><link>{fixture_server.url('dev/articles/' + name)}</link>"
                    f"<pubDate>{when}</pubDate></item>" for name, when in ANALYST_DEV_PAGES.items())
    (tmp / "feeds").mkdir()
    (tmp / "feeds" / "dev.rss.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Dev wire</title>'
        f"<link>http://dev.example/</link>{items}</channel></rss>", encoding="utf-8")
    with CbrServer() as cbr, SampleServer(PACKAGE_DATA / "sample") as sample, SampleServer(tmp) as dev:
        feeds = tmp / "feeds.yaml"
        feeds.write_text("feeds:\n" + "".join(f"  - {{url: '{u}', name: {n}, tags: [{t}]}}\n" for u, n, t in [
            (fixture_server.url("feeds/central-asia.rss.xml"), "Steppe Business Review", "central-asia"),
            (fixture_server.url("feeds/asia-world.atom.xml"), "Asia World Digest", "asia"),
            (dev.url("feeds/dev.rss.xml"), "Dev Wire", "dev"),
            (fixture_server.url("feeds/truncated.rss.xml"), "Broken Wire", "broken"),
            (fixture_server.url("feeds/entity-bomb.rss.xml"), "Hostile Wire", "broken")]) + "".join(
            f"  - {sample.url('feeds/' + f.name)}\n" for f in sorted((PACKAGE_DATA / "sample" / "feeds").glob("*.xml"))),
            encoding="utf-8")
        s = es_settings.with_(index_prefix=prefix, home=tmp / "home", allow_loopback=True, fetch_timeout=5.0,
                              fetch_total_timeout=10.0, rates_url=cbr.url, rates_dir=str(tmp / "rates"),
                              rates_delay=0.0, rates_max_dates=100)
        summary = ingest_flow(str(feeds), overrides=s.public())
    assert summary["status"] in ("ok", "completed_with_errors"), summary
    try:
        yield s
    finally:
        _drop_prefix(es_client, prefix)


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # heartbeats would add up to 1 s to every flow run (see newswatch.flows.ingest.run_ingest)
    with prefect_test_harness(server_startup_timeout=120), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture(scope="session")
def prefect_api_url(prefect_harness) -> str:
    """The harness's Prefect server, for `newswatch` subprocesses: they then start no temporary server of their own
    (what a user's scheduled setup does; the ephemeral path keeps its own tests: test_demo, test_es_security)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def fixture_server(fixtures_dir):
    from newswatch.sampleserver import SampleServer

    with SampleServer(fixtures_dir) as server:
        yield server


@pytest.fixture()
def feeds_file(tmp_path, fixture_server):
    def make(*names: str) -> str:
        path = tmp_path / f"feeds-{uuid.uuid4().hex[:6]}.txt"
        path.write_text("".join(fixture_server.url(f"feeds/{n}") + "\n" for n in names))
        return str(path)

    return make


# ------------------------------------------------------------------ fault-injection figures

_FAULTS: list[tuple[str, int, int, int, str]] = []


@pytest.fixture()
def fault_report():
    """Record a fault test's figures (injected, survived, lost); printed at the end of the run."""

    def record(name: str, *, injected: int, survived: int, lost: int, note: str = "") -> None:
        _FAULTS.append((name, injected, survived, lost, note))

    return record


def pytest_terminal_summary(terminalreporter):
    if not _FAULTS:
        return
    tr = terminalreporter
    tr.section("fault injection figures")
    tr.write_line(f"{'fault':<48} {'injected':>8} {'survived':>8} {'lost':>5}  note")
    for name, injected, survived, lost, note in _FAULTS:
        tr.write_line(f"{name:<48} {injected:>8} {survived:>8} {lost:>5}  {note}")
