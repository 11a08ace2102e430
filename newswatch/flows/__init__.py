"""Prefect flows: ingest (scheduled), alerts."""
from __future__ import annotations


def unpersisted() -> dict:
    """Options of newswatch's flows: their results are not persisted. A run's summary is stored in Elasticsearch
    and under ``$NEWSWATCH_HOME/runs`` by the flow itself, and its tasks return what only that run needs. Saying
    so, with a storage that is then never written, also spares every run the two requests Prefect's client
    otherwise makes to ask the API whether a default result storage is configured."""
    from pathlib import Path

    from prefect.settings import get_current_settings

    return {"persist_result": False, "result_storage": Path(get_current_settings().results.local_storage_path)}


def run_local(flow_fn, *args, **kwargs):
    """Call a flow as the CLI does.

    Without a Prefect server (``PREFECT_API_URL`` unset) flows run against Prefect's ephemeral API, which lives
    and dies with this process; flow-run heartbeats, which let a server notice crashed runs, are then turned
    off: Prefect 3.9 joins its heartbeat thread at the end of every run, and that thread sleeps in one-second
    steps, so each run would otherwise wait up to a second doing nothing. The client does not ask that API for a
    CSRF token either (one request per run) unless the API was configured to require one. A run that ended
    Failed (:class:`~newswatch.flows.outcome.RunFailed`) returns its summary, whose ``status`` is ``failed``.
    """
    from prefect.settings import (PREFECT_API_URL, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
                                  PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_SERVER_CSRF_PROTECTION_ENABLED,
                                  temporary_settings)

    from .outcome import RunFailed

    try:
        if PREFECT_API_URL.value():
            return flow_fn(*args, **kwargs)
        updates = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        if not PREFECT_SERVER_CSRF_PROTECTION_ENABLED.value():
            updates[PREFECT_CLIENT_CSRF_SUPPORT_ENABLED] = False
        with temporary_settings(updates=updates):
            return flow_fn(*args, **kwargs)
    except RunFailed as exc:  # the run ended Failed in Prefect; the caller reads why from its summary
        return exc.summary
