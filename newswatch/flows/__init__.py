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
    import prefect.context

    ctx = prefect.context.get_settings_context()
    key = id(ctx.settings)
    cached = _NO_HEARTBEAT.get(key)
    if cached is None or cached[0] is not ctx.settings:
        cached = _NO_HEARTBEAT[key] = (ctx.settings, ctx.settings.copy_with_update(
            updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))
    with prefect.context.SettingsContext(profile=ctx.profile, settings=cached[1]):
        return flow_fn(*args, **kwargs)


_NO_HEARTBEAT: dict = {}
