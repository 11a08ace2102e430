"""Scheduled ingestion with the real thing: a `prefect server start` on loopback (its own PREFECT_HOME), the bundled
sample feeds served on loopback, and (a) `newswatch serve` on a one-minute cron, (b) `deploy/prefect.yaml` deployed
to a process work pool with a `prefect worker`. Each waits for its flow run to reach Completed and finds the run's
stories in Elasticsearch."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from newswatch.connectors.es import Indices

pytestmark = [pytest.mark.integration, pytest.mark.heavy]

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    # a session of its own: stopping it stops the flow-run processes it started too
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _tail(log: Path, n: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on a free loopback port, with its own PREFECT_HOME; yields (api_url, env)."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT))
    log = home / "server.log"
    proc = _start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, log)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).json() is True:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert proc.poll() is None, f"prefect server exited:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"prefect server not up after 120 s:\n{_tail(log)}"
            time.sleep(0.5)
        yield api, {**env, "PREFECT_API_URL": api}
    finally:
        _stop(proc)


@pytest.fixture()
def prefect_api(prefect_server):
    """The module's Prefect server with no deployment left by an earlier test (both tests deploy the same
    deployment name)."""
    api, env = prefect_server
    for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json():
        httpx.delete(f"{api}/deployments/{d['id']}", timeout=10).raise_for_status()
    return api, env


@pytest.fixture()
def sample_feeds(tmp_path):
    """The bundled sample feeds served on loopback; yields a feeds file listing them."""
    from newswatch.sampleserver import SampleServer
    from newswatch.settings import PACKAGE_DATA

    with SampleServer(PACKAGE_DATA / "sample") as server:
        feeds = tmp_path / "feeds.txt"
        feeds.write_text("".join(server.url(f"feeds/{f.name}") + "\n"
                                 for f in sorted((PACKAGE_DATA / "sample" / "feeds").glob("*.xml"))))
        yield feeds


def _newswatch_env(base: dict, settings) -> dict:
    """What a flow run needs to write where this test looks: the test's ES and index prefix, loopback allowed."""
    return {**base, "ES_URL": settings.es_url, "NEWSWATCH_INDEX_PREFIX": settings.index_prefix,
            "NEWSWATCH_HOME": str(settings.home), "NEWSWATCH_ALLOW_LOOPBACK": "1", "NEWSWATCH_NER": "rules",
            "NEWSWATCH_CPU_WORKERS": "0", "NEWSWATCH_CLUSTER_WINDOW_DAYS": "0",
            "NEWSWATCH_PER_HOST_DELAY": "0", "NEWSWATCH_PER_HOST_CONCURRENCY": "16"}


def _finished_runs(api: str, **flow_run_filter) -> list[dict]:
    # a cron schedule has many runs scheduled ahead: ask for the finished ones only
    body = {"flow_runs": {**flow_run_filter, "state": {"type": {"any_": sorted(TERMINAL)}}}, "limit": 10}
    resp = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _wait_for_run(api: str, procs: list[tuple[subprocess.Popen, Path]], timeout: float, **flow_run_filter) -> dict:
    """The first flow run matching the filter to reach a final state (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        done = _finished_runs(api, **flow_run_filter)
        if done:
            return done[0]
        for proc, log in procs:
            assert proc.poll() is None, f"{proc.args[:3]} exited ({proc.returncode}):\n{_tail(log)}"
        assert time.monotonic() < deadline, "no flow run finished in time:\n" + "\n".join(_tail(l) for _, l in procs)
        time.sleep(1)


def _stories_of_the_run(es_client, settings) -> tuple[dict, int]:
    (summary_file,) = (Path(settings.home) / "runs").glob("*.json")
    summary = json.loads(summary_file.read_text())
    index = Indices(settings).stories
    es_client.indices.refresh(index=index)
    found = es_client.count(index=index, query={"ids": {"values": summary["story_ids"]}})["count"]
    return summary, found


def test_newswatch_serve_runs_the_flow_on_its_schedule(prefect_api, sample_feeds, settings, es_client, tmp_path):
    api, env = prefect_api
    # the runner asks for due runs every 2 s (default 10) so the run starts soon after its minute
    env = {**_newswatch_env(env, settings), "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    log = tmp_path / "serve.log"
    serve = _start([str(BIN / "newswatch"), "serve", "--feeds", str(sample_feeds), "--cron", "* * * * *"], env, log)
    try:
        run = _wait_for_run(api, [(serve, log)], timeout=150, deployment_id={"is_null_": False})
    finally:
        _stop(serve)
    assert run["state_type"] == "COMPLETED", f"{run['state_type']}: {run['state']}\n{_tail(log)}"
    assert run["auto_scheduled"], "a run the schedule made, not one triggered by hand"
    summary, found = _stories_of_the_run(es_client, settings)
    assert summary["counts"]["indexed"] >= 5 and found == len(summary["story_ids"]) == summary["counts"]["indexed"]
    assert "Traceback" not in log.read_text(errors="replace")


def test_prefect_yaml_deploys_to_a_process_pool_and_a_worker_runs_it(prefect_api, sample_feeds, settings,
                                                                    es_client, tmp_path):
    api, env = prefect_api
    env = _newswatch_env(env, settings)
    prefect = str(BIN / "prefect")

    def cli(*args: str) -> str:
        out = subprocess.run([prefect, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
        return out.stdout

    # as the README says, verbatim
    cli("work-pool", "create", "newswatch", "--type", "process")
    cli("--no-prompt", "deploy", "--all", "--prefect-file", "deploy/prefect.yaml")
    deployments = {d["name"]: d for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()}
    assert set(deployments) == {"newswatch-ingest", "newswatch-alerts"}
    ingest = deployments["newswatch-ingest"]
    assert ingest["entrypoint"] == "newswatch.flows.ingest:ingest_flow" and ingest["work_pool_name"] == "newswatch"
    assert [s["schedule"]["cron"] for s in ingest["schedules"]] == ["*/15 * * * *"]
    assert ingest["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
    for d in deployments.values():  # no run of the real schedules (real feeds) while the test runs
        for s in d["schedules"]:
            httpx.delete(f"{api}/deployments/{d['id']}/schedules/{s['id']}", timeout=10).raise_for_status()

    log = tmp_path / "worker.log"
    worker = _start([prefect, "worker", "start", "--pool", "newswatch"], {**env, "PREFECT_WORKER_QUERY_SECONDS": "2"},
                    log, cwd=tmp_path)
    try:
        out = cli("deployment", "run", "newswatch-ingest/newswatch-ingest", "--param", f"feeds_file={sample_feeds}")
        (run_id,) = re.findall(r"UUID: ([0-9a-f-]{36})", out)
        run = _wait_for_run(api, [(worker, log)], timeout=150, id={"any_": [run_id]})
    finally:
        _stop(worker)
    assert run["state_type"] == "COMPLETED", f"{run['state_type']}: {run['state']}\n{_tail(log)}"
    summary, found = _stories_of_the_run(es_client, settings)
    assert summary["counts"]["indexed"] >= 5 and found == len(summary["story_ids"]) == summary["counts"]["indexed"]
