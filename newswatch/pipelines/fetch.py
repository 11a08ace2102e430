"""The fetch stage: feed entries -> fetched pages (bytes, final URL, charset), or dead letters."""
from __future__ import annotations

from ..schemas.records import now_iso
from ..settings import Settings
from .concurrent import Concurrent
from .outputs import DEAD, MAIN, dead_letter


class Fetch(Concurrent):
    """Fetch story pages politely (:mod:`newswatch.connectors.polite`: robots.txt, at most
    ``per_host_concurrency`` requests to a host at once, ``per_host_delay`` apart, ``fetch_concurrency`` in all),
    with the SSRF guard and size/time limits."""

    def __init__(self, settings: Settings):
        super().__init__(settings, ("fetch",))

    def setup(self):
        from ..connectors.http import Fetcher
        from ..connectors.polite import PoliteFetcher

        # entries come interleaved by host (stage_entries): a window of 4 x the fetch threads spans the hosts
        self.limit = 4 * max(1, self.settings.fetch_concurrency)
        self.fetcher = PoliteFetcher(Fetcher(self.settings))

    def teardown(self):
        self.fetcher.shutdown()

    def _submit(self, entry):
        return self.fetcher.submit(entry["link"])

    def _result(self, entry, future) -> tuple[str, dict]:
        from ..connectors.http import FetchError

        try:
            resp = future.result()
        except FetchError as exc:
            return DEAD, dead_letter("fetch", entry, exc.reason, exc.kind, exc.status)
        except Exception as exc:  # anything unexpected is still a recorded failure, not a crash
            return DEAD, dead_letter("fetch", entry, f"{type(exc).__name__}: {exc}", "fetch_exception")
        return MAIN, {**entry, "url": resp.url, "html": resp.body, "charset": resp.charset, "fetched_at": now_iso()}
