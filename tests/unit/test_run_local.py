"""`run_local`: the settings a flow runs under against Prefect's ephemeral API (no server configured)."""
from __future__ import annotations

from prefect.settings import (PREFECT_API_URL, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED, PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                              PREFECT_SERVER_CSRF_PROTECTION_ENABLED, get_current_settings, temporary_settings)

from newswatch.flows import run_local

# Prefect's defaults, set explicitly: the suite's Prefect harness turns heartbeats off for the session
DEFAULTS = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED: True,
            PREFECT_SERVER_CSRF_PROTECTION_ENABLED: False}


def _seen() -> tuple:
    s = get_current_settings()
    return s.flows.heartbeat_frequency, s.client.csrf_support_enabled


def test_ephemeral_runs_have_no_heartbeat_thread_and_ask_for_no_csrf_token():
    with temporary_settings(updates={**DEFAULTS, PREFECT_API_URL: None}):
        assert _seen() == (180, True)
        assert run_local(_seen) == (None, False)
        assert _seen() == (180, True)  # only for the run


def test_an_ephemeral_api_that_requires_csrf_tokens_gets_them():
    with temporary_settings(updates={**DEFAULTS, PREFECT_API_URL: None, PREFECT_SERVER_CSRF_PROTECTION_ENABLED: True}):
        assert run_local(_seen) == (None, True)


def test_runs_against_a_server_keep_its_settings():
    with temporary_settings(updates={**DEFAULTS, PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert run_local(_seen) == (180, True)
