"""Prefect flows: ingest (scheduled), alerts."""
from __future__ import annotations


def run_local(flow_fn, *args, **kwargs):
    """Call a flow as the CLI does.

    Without a Prefect server (``PREFECT_API_URL`` unset) flows run against Prefect's ephemeral API, which lives
    and dies with this process; flow-run heartbeats, which let a server notice crashed runs, are then turned
    off: Prefect 3.9 joins its heartbeat thread at the end of every run, and that thread sleeps in one-second
    steps, so each run would otherwise wait up to a second doing nothing.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if PREFECT_API_URL.value():
        return flow_fn(*args, **kwargs)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return flow_fn(*args, **kwargs)
