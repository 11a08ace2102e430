"""A run's outcome where users look, against the real Prefect (the session's harness server) and a real ES: a run
that did not do its job ends Failed with the reason as its state's message and a non-zero exit code; a partial
failure stays Completed with its counts; every run publishes its summary as a markdown artifact."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_view(state) -> tuple[str, str]:
    """What the Prefect server recorded for the flow run of ``state``: its state type and artifact markdown."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[run_id])))
    (artifact,) = [a for a in artifacts if a.key == "newswatch-ingest-summary"]
    return run.state.type.value, artifact.data


def test_elasticsearch_unreachable_fails_the_run_and_says_so(settings, feeds_file, prefect_harness, monkeypatch):
    from newswatch.flows import ingest

    monkeypatch.setattr(ingest, "RETRY_DELAYS", (0, 0))  # the retries still happen, without their waits
    s = settings.with_(es_url=f"http://127.0.0.1:{_closed_port()}", es_timeout=2.0)
    state = ingest.ingest_flow(feeds_file("central-asia.rss.xml"), overrides=s.public(), return_state=True)
    assert state.is_failed() and "is not usable" in state.message
    server_state, markdown = _server_view(state)
    assert server_state == "FAILED"
    assert "**failed**" in markdown and "is not usable" in markdown
    (stored,) = (Path(s.home) / "runs").glob("*.json")
    assert json.loads(stored.read_text())["status"] == "failed"


def test_every_feed_failing_exits_non_zero_and_the_run_is_failed(settings, fixture_server, prefect_api_url,
                                                                 tmp_path):
    from prefect.client.orchestration import get_client

    feeds = tmp_path / "feeds.txt"
    feeds.write_text(fixture_server.url("feeds/no-such-feed.xml") + "\n" + fixture_server.url("feeds/gone.xml") + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": prefect_api_url, "ES_URL": settings.es_url,
           "NEWSWATCH_INDEX_PREFIX": settings.index_prefix, "NEWSWATCH_HOME": str(settings.home),
           "NEWSWATCH_ALLOW_LOOPBACK": "1", "NEWSWATCH_NER": "rules", "NEWSWATCH_CPU_WORKERS": "0"}
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "run", "--feeds", str(feeds)], env=env,
                         capture_output=True, text=True, timeout=180)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "every feed failed (2 of 2" in text and "Traceback" not in text
    (stored,) = (Path(settings.home) / "runs").glob("*.json")
    summary = json.loads(stored.read_text())
    assert summary["status"] == "failed" and summary["errors_by_stage"] == {"poll": 2}
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(summary["flow_run_id"])
    assert run.state.type.value == "FAILED" and run.state.message.startswith("every feed failed")


def test_undelivered_alert_mail_fails_the_ingest_run(settings, feeds_file, prefect_harness):
    from newswatch.flows.ingest import ingest_flow

    s = settings.with_(smtp_host="127.0.0.1", smtp_port=_closed_port(), smtp_timeout=2.0)
    state = ingest_flow(feeds_file("central-asia.rss.xml", "asia-world.atom.xml"), overrides=s.public(),
                        return_state=True)
    assert state.is_failed() and "alert mail not delivered" in state.message, state.message
    summary = state.result(raise_on_failure=False).summary
    assert summary["counts"]["indexed"] == 7 and summary["alerts"]["pending"] > 0
    server_state, markdown = _server_view(state)
    assert server_state == "FAILED" and "alert mail not delivered" in markdown


def test_a_partial_failure_stays_completed_with_its_counts_in_the_artifact(settings, feeds_file, prefect_harness):
    from newswatch.flows.ingest import ingest_flow

    state = ingest_flow(feeds_file("central-asia.rss.xml", "no-such-feed.xml"), overrides=settings.public(),
                        return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["status"] == "completed_with_errors" and summary["counts"]["feeds_failed"] == 1
    assert summary["errors_by_stage"]["poll"] == 1 and summary["stories_per_s"] > 0
    server_state, markdown = _server_view(state)
    assert server_state == "COMPLETED"
    assert "**completed_with_errors**" in markdown and f"| indexed | {summary['counts']['indexed']} |" in markdown
    assert "| poll | " in markdown and "stories/s" in markdown and "no-such-feed.xml" in markdown


def test_a_backfill_with_elasticsearch_unreachable_fails_too(settings, prefect_harness, monkeypatch):
    from newswatch.flows import ingest
    from newswatch.flows.backfill import backfill_flow

    monkeypatch.setattr(ingest, "RETRY_DELAYS", (0, 0))
    s = settings.with_(es_url=f"http://127.0.0.1:{_closed_port()}", es_timeout=2.0)
    state = backfill_flow("http://127.0.0.1:9/", "2024-05-01", overrides=s.public(), return_state=True)
    assert state.is_failed() and "is not usable" in state.message
