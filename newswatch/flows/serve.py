"""`newswatch serve`: run the ingest flow on a schedule from a long-running process (needs a Prefect server)."""
from __future__ import annotations

import os

DEFAULT_CRON = os.environ.get("NEWSWATCH_CRON", "*/15 * * * *")


def build_deployment(feeds_file: str, cron: str = DEFAULT_CRON, beam_args: list[str] | None = None):
    """The scheduled deployment of the ingest flow: cron schedule, at most one run at a time."""
    from prefect.types.entrypoint import EntrypointType

    from .ingest import ingest_flow

    # the run's process imports the flow from the installed package; a file path would load ingest.py as a
    # loose script, whose relative imports fail
    return ingest_flow.to_deployment(
        name="newswatch-ingest", cron=cron, concurrency_limit=1, entrypoint_type=EntrypointType.MODULE_PATH,
        parameters={"feeds_file": feeds_file, "beam_args": list(beam_args or [])},
        description="Poll feeds, fetch and extract new stories, index them, send alerts", tags=["newswatch"])


def serve(feeds_file: str, cron: str = DEFAULT_CRON, beam_args: list[str] | None = None) -> None:
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise SystemExit(
            "newswatch serve needs a Prefect server (Prefect cannot schedule on its temporary local server).\n"
            "Start one with `prefect server start` (or `docker compose up prefect-server` in deploy/) and set\n"
            "PREFECT_API_URL=http://127.0.0.1:4200/api; to run once without a server use `newswatch run`.")
    prefect_serve(build_deployment(feeds_file, cron, beam_args), limit=1)
