"""Shared fixtures: a real Elasticsearch node, Prefect in a private temp home, a loopback fixture server."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("NEWSWATCH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()

# one directory per test run, shared by its test processes (pytest -n): the services lock and who started what
if not os.environ.get("NEWSWATCH_TEST_RUN_DIR"):
    os.environ["NEWSWATCH_TEST_RUN_DIR"] = tempfile.mkdtemp(prefix="nw-testrun-")
_RUN_DIR = Path(os.environ["NEWSWATCH_TEST_RUN_DIR"])
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")

# Prefect: a private home per test process (two processes sharing one SQLite file lock each other out)
if _WORKER or "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="nw-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# exchange rates: never the real source (the rate tests serve CBR documents on loopback), and a cache of the
# session's own, so no developer's fetched rates leak into the results
os.environ.setdefault("NEWSWATCH_RATES_URL", "off")
if _WORKER or "NEWSWATCH_RATES_DIR" not in os.environ:
    os.environ["NEWSWATCH_RATES_DIR"] = tempfile.mkdtemp(prefix="nw-rates-")


@contextlib.contextmanager
def _run_lock(name: str):
    """A lock held across the run's test processes."""
    with open(_RUN_DIR / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "gold.json").is_file():
        pytest.fail(f"shared fixtures not found at {FIXTURES} (set NEWSWATCH_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def gold(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / "gold.json").read_text(encoding="utf-8"))


def _service_settings():
    """The session's ES and CoreNLP settings: $ES_URL / $NEWSWATCH_NLP_URL if set, else local ones on the test ports."""
    from newswatch.settings import Settings

    base = Settings.from_env()
    return base.with_(nlp_port=int(os.environ.get("NEWSWATCH_TEST_NLP_PORT", "9311")),
                      es_port=int(os.environ.get("NEWSWATCH_TEST_ES_PORT", "9250")))


def _start_services() -> None:
    """Start the local Elasticsearch node and CoreNLP service at once (each is mostly a JVM warming up), unless
    one already answers or $ES_URL / $NEWSWATCH_NLP_URL name others; note which this run started."""
    from concurrent.futures import ThreadPoolExecutor

    from newswatch.connectors import es_local, nlp_local
    from newswatch.connectors.nlp import ready

    s = _service_settings()
    with _run_lock("services"), ThreadPoolExecutor(2) as pool:
        jobs = []
        if not os.environ.get("NEWSWATCH_NLP_URL") and not ready(s.local_nlp_url):
            jobs.append(("nlp", pool.submit(nlp_local.start, s, timeout=180)))
        if not s.es_url and not es_local._health(s.local_es_url):
            jobs.append(("es", pool.submit(es_local.start, s, timeout=240)))
        # noted before they are up: a run interrupted while they start still stops them
        _RUN_DIR.joinpath("started").write_text("\n".join([name for name, _ in jobs] + _started_before()))
        for _, job in jobs:
            job.result()


def pytest_collection_modifyitems(config, items):
    # unit tests first (they run while the services start, see pytest_sessionstart), then the heavy integration
    # tests, so that with several test processes the run does not end waiting on one of them
    items.sort(key=lambda item: 0 if "integration" not in item.path.parts else 1 if "heavy" in item.keywords else 2)


_STARTER = None  # the controller's thread starting the services (see pytest_sessionstart)


def pytest_sessionstart(session):
    """The run's controller (or a plain run) starts the services in the background as soon as the run begins,
    when it will run integration tests; the first test that needs them waits (the services lock)."""
    import threading

    global _STARTER
    config = session.config
    if _WORKER or config.getoption("collectonly") or "not integration" in (config.getoption("markexpr") or ""):
        return
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [ROOT / "tests"]
    integration = ROOT / "tests" / "integration"
    if any(integration == a or integration in a.parents or a in integration.parents for a in args):
        _STARTER = threading.Thread(target=_start_quietly, name="nw-test-services", daemon=True)
        _STARTER.start()


def _start_quietly() -> None:
    try:
        _start_services()
    except Exception:  # noqa: BLE001 - the fixture tries again and fails the tests that need the service, loudly
        pass


@pytest.fixture(scope="session")
def _services():
    """The session's real Elasticsearch node and CoreNLP service. With several test processes (pytest -n) the
    first one to need them starts them, or waits for the controller, which began at once; the controller (or
    the plain run's process) stops them at the end."""
    _start_services()
    return _service_settings()


def _started_before() -> list[str]:
    f = _RUN_DIR / "started"
    return f.read_text().split() if f.exists() else []


def _stop_services() -> None:
    from newswatch.connectors import es_local, nlp_local

    s = _service_settings()
    started = set(_started_before())
    if "nlp" in started and os.environ.get("NEWSWATCH_TEST_KEEP_NLP") != "1":
        nlp_local.stop(s)
    if "es" in started and os.environ.get("NEWSWATCH_TEST_KEEP_ES") != "1":
        es_local.stop(s)


def pytest_sessionfinish(session):
    if not _WORKER:  # a plain run, or the controller of a pytest -n run once its workers have finished
        if _STARTER is not None:
            _STARTER.join(timeout=300)
        _stop_services()


@pytest.fixture(scope="session")
def nlp_url(_services):
    """A real CoreNLP named-entity service: $NEWSWATCH_NLP_URL if set, else the session's local one. Exported, so
    CLI subprocesses use it too."""
    if os.environ.get("NEWSWATCH_NLP_URL"):
        yield os.environ["NEWSWATCH_NLP_URL"]
        return
    os.environ["NEWSWATCH_NLP_URL"] = _services.local_nlp_url
    yield _services.local_nlp_url
    os.environ.pop("NEWSWATCH_NLP_URL", None)


@pytest.fixture(scope="session")
def es_settings(_services, nlp_url):
    """Settings pointing at a real ES: $ES_URL if set, else the session's local node."""
    from newswatch.settings import Settings

    base = Settings.from_env()
    return base if base.es_url else base.with_(es_port=_services.es_port, es_url=_services.local_es_url)


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
    (what a user's scheduled setup does; the ephemeral path keeps its own test: test_demo, the README's first command)."""
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

def _faults_file() -> Path:
    return _RUN_DIR / "faults.jsonl"  # every test process of the run appends; the controller prints


@pytest.fixture()
def fault_report():
    """Record a fault test's figures (injected, survived, lost); printed at the end of the run."""

    def record(name: str, *, injected: int, survived: int, lost: int, note: str = "") -> None:
        with _run_lock("faults"), _faults_file().open("a", encoding="utf-8") as f:
            f.write(json.dumps([name, injected, survived, lost, note]) + "\n")

    return record


def pytest_terminal_summary(terminalreporter):
    if _WORKER or not _faults_file().exists():
        return
    tr = terminalreporter
    tr.section("fault injection figures")
    tr.write_line(f"{'fault':<48} {'injected':>8} {'survived':>8} {'lost':>5}  note")
    for line in sorted(_faults_file().read_text(encoding="utf-8").splitlines()):
        name, injected, survived, lost, note = json.loads(line)
        tr.write_line(f"{name:<48} {injected:>8} {survived:>8} {lost:>5}  {note}")
