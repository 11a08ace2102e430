"""Prefect flows: ingest (scheduled), alerts."""
from __future__ import annotations


def run_local(flow_fn, *args, **kwargs):
    """Call a flow as the CLI does.

    Without a Prefect server (``PREFECT_API_URL`` unset) flows run against Prefect's ephemeral API, which lives
    and dies with this process; flow-run heartbeats, which let a server notice crashed runs, are then turned
    off: Prefect 3.9 joins its heartbeat thread at the end of every run, and that thread sleeps in one-second
    steps, so each run would otherwise wait up to a second doing nothing. The client does not ask that API for a
    CSRF token either (one request per run) unless the API was configured to require one.
    """
    from prefect.settings import (PREFECT_API_URL, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
                                  PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_SERVER_CSRF_PROTECTION_ENABLED,
                                  temporary_settings)

    if PREFECT_API_URL.value():
        return flow_fn(*args, **kwargs)
    updates = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if not PREFECT_SERVER_CSRF_PROTECTION_ENABLED.value():
        updates[PREFECT_CLIENT_CSRF_SUPPORT_ENABLED] = False
    with temporary_settings(updates=updates):
        return flow_fn(*args, **kwargs)
