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


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "gold.json").is_file():
        pytest.fail(f"shared fixtures not found at {FIXTURES} (set NEWSWATCH_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def gold(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / "gold.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def es_settings():
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
    names = list(es_client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
    if names:
        es_client.indices.delete(index=",".join(names))
    for t in es_client.indices.get_index_template(name=f"{prefix}-*", ignore=[404]).get("index_templates", []):
        es_client.indices.delete_index_template(name=t["name"])


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # heartbeats would add up to 1 s to every flow run (see newswatch.flows.ingest.run_ingest)
    with prefect_test_harness(server_startup_timeout=120), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


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
