"""Fault injection on the process: SIGKILL mid-run, then restart; two runs started at once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newswatch.connectors.es import Indices

pytestmark = [pytest.mark.integration, pytest.mark.heavy]


@pytest.fixture()
def slow_site(fixtures_dir):
    from newswatch.sampleserver import SampleServer

    with SampleServer(fixtures_dir, delay=1.0) as server:
        yield server


def _run(settings, feeds: str, tmp_path: Path, name: str, api_url: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix,
               NEWSWATCH_HOME=str(settings.home), NEWSWATCH_ALLOW_LOOPBACK="1", NEWSWATCH_FETCH_CONCURRENCY="1",
               PREFECT_HOME=str(tmp_path / f"prefect-{name}"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL=api_url)
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "newswatch.cli", "run", "--feeds", feeds], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _summaries(settings) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((settings.home / "runs").glob("*.json"))]


def _stories(es, settings) -> list[dict]:
    ix = Indices(settings)
    es.indices.refresh(index=ix.stories)
    return [h["_source"] for h in es.search(index=ix.stories, size=100)["hits"]["hits"]]


def _feeds(tmp_path, server) -> str:
    path = tmp_path / "feeds.txt"
    path.write_text(f"{server.url('feeds/central-asia.rss.xml')}\n{server.url('feeds/asia-world.atom.xml')}\n")
    return str(path)


def test_sigkill_mid_run_then_restart_completes_without_duplicates(settings, slow_site, tmp_path, es_client, gold,
                                                                  fault_report, prefect_api_url):
    feeds = _feeds(tmp_path, slow_site)
    victim = _run(settings, feeds, tmp_path, "victim", prefect_api_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is fetching pages, then kill it hard
        if sum(n for p, n in slow_site.hits.items() if p.startswith("/articles/")) >= 2:
            break
        assert victim.poll() is None, (tmp_path / "victim.log").read_text()[-3000:]
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    indexed_before = len(_stories(es_client, settings)) if es_client.indices.exists_alias(
        name=Indices(settings).stories) else 0
    slow_site.delay = 0.0
    survivor = _run(settings, feeds, tmp_path, "survivor", prefect_api_url)
    assert survivor.wait(timeout=300) == 0, (tmp_path / "survivor.log").read_text()[-3000:]
    (summary,) = _summaries(settings)  # the killed run never wrote one
    assert summary["status"] in ("ok", "completed_with_errors")
    assert summary.get("lock_taken_over_from"), "the dead run's lock was taken over"
    stories = _stories(es_client, settings)
    urls = [s["canonical_url"] for s in stories]
    assert len(urls) == len(set(urls)) == 7
    assert sorted(urlsplit(u).path.rsplit("/", 1)[-1] for u in urls) == sorted(gold["articles"])
    fault_report("SIGKILL during fetching, then restart", injected=1, survived=1, lost=0,
                 note=f"{indexed_before} stored before the kill, 7 after restart, 0 duplicates")


def test_two_runs_started_at_once_do_not_both_ingest(settings, slow_site, tmp_path, es_client, fault_report,
                                                    prefect_api_url):
    feeds = _feeds(tmp_path, slow_site)
    procs = [_run(settings, feeds, tmp_path, f"run{i}", prefect_api_url) for i in range(2)]
    for i, p in enumerate(procs):
        assert p.wait(timeout=300) in (0, 1), (tmp_path / f"run{i}.log").read_text()[-3000:]
    summaries = _summaries(settings)
    statuses = sorted(s["status"] for s in summaries)
    assert len(summaries) == 2
    assert "skipped" in statuses, statuses
    skipped = next(s for s in summaries if s["status"] == "skipped")
    assert "another ingest run is in progress" in skipped["reason"]
    urls = [s["canonical_url"] for s in _stories(es_client, settings)]
    assert len(urls) == len(set(urls)) == 7
    article_fetches = {p: n for p, n in slow_site.hits.items() if p.startswith("/articles/")}
    assert all(n == 1 for n in article_fetches.values()), article_fetches
    fault_report("two ingest runs started at once", injected=1, survived=1, lost=0,
                 note="one ran, one skipped (ES lock); every page fetched once")


def test_secrets_never_reach_logs_errors_or_summaries(settings, fixture_server, tmp_path, es_client, prefect_api_url):
    """A run with an API key and an SMTP password set: neither appears in its output, errors or summary."""
    secrets = {"ES_API_KEY": "c2VjcmV0LWtleS1kby1ub3QtbG9n", "SMTP_PASSWORD": "hunter2-do-not-log"}
    feeds = _feeds(tmp_path, fixture_server)
    env = dict(os.environ, **secrets)
    env.update(ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix,
               NEWSWATCH_HOME=str(settings.home), NEWSWATCH_ALLOW_LOOPBACK="1", PREFECT_HOME=str(tmp_path / "ph"),
               PREFECT_API_URL=prefect_api_url, PREFECT_LOGGING_LEVEL="DEBUG", SMTP_HOST="127.0.0.1", SMTP_PORT="1")
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "run", "--feeds", feeds], env=env,
                         capture_output=True, text=True, timeout=300)
    doctor = subprocess.run([sys.executable, "-m", "newswatch.cli", "doctor"], env=env, capture_output=True,
                            text=True, timeout=120)
    # SMTP_PORT=1: the digest cannot go out, so the run ends failed (its stories are stored, alerts pending)
    assert out.returncode == 1 and "alert mail not delivered" in out.stdout + out.stderr, out.stderr[-3000:]
    assert "smtp" in doctor.stdout and "unreachable" in doctor.stdout  # the doctor names the broken part
    ix = Indices(settings)
    es_client.indices.refresh(index=f"{ix.errors},{ix.runs}")
    stored = json.dumps([h["_source"] for h in es_client.search(index=f"{ix.errors},{ix.runs}", size=100)["hits"]["hits"]])
    files = "".join(p.read_text(errors="replace") for p in settings.home.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".log"))
    prefect_logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "ph").rglob("*.log"))
    for name, value in secrets.items():
        for where, text in (("run output", out.stdout + out.stderr), ("doctor", doctor.stdout + doctor.stderr),
                            ("ES error/run records", stored), ("files", files), ("prefect logs", prefect_logs)):
            assert value not in text, f"{name} leaked into {where}"


def test_a_lock_is_released_only_by_the_owner_of_its_current_version(es_settings, es_client):
    from newswatch.connectors import es as esc

    ix = Indices(es_settings.with_(index_prefix=f"nwlock-{os.getpid()}-{time.monotonic_ns() % 10**6}"))
    try:
        esc.ensure_indices(es_client, es_settings.with_(index_prefix=ix.prefix))
        assert esc.acquire_lock(es_client, ix, "ingest", owner="a") is not None
        assert esc.acquire_lock(es_client, ix, "ingest", owner="b") is None  # held by a live owner
        assert esc.release_lock(es_client, ix, "ingest", owner="b") is False  # not b's to release
        assert esc.release_lock(es_client, ix, "ingest", owner="a") is True
        assert esc.lock_holder(es_client, ix, "ingest") is None
        # a's lock expires and b takes it over: a, which still thinks it holds it, must not release b's
        assert esc.acquire_lock(es_client, ix, "ingest", owner="a", ttl_seconds=-1) is not None
        assert esc.acquire_lock(es_client, ix, "ingest", owner="b")["took_over_from"] == "a"
        assert esc.release_lock(es_client, ix, "ingest", owner="a") is False
        assert esc.lock_holder(es_client, ix, "ingest")["owner"] == "b"
        # a lock taken by another process (this one does not know its version) is looked up, then released
        esc._ACTIVE_LOCK_OWNERS.pop("b")
        assert esc.release_lock(es_client, ix, "ingest", owner="b") is True
        assert esc.lock_holder(es_client, ix, "ingest") is None
    finally:
        es_client.indices.delete(index=",".join(es_client.indices.get(index=f"{ix.prefix}-*")))
        es_client.indices.delete_index_template(name=f"{ix.prefix}-stories")
