"""Feed health against a loopback site and the real Elasticsearch: a failing feed backs off exponentially (skipped
until its next poll time), is quarantined after N failures in a row, shows in `newswatch feeds list`, and comes
back with `newswatch feeds reset URL`."""
from __future__ import annotations

import time

import pytest

from newswatch.sampleserver import RecordingSite

pytestmark = pytest.mark.integration


def test_failing_feed_backs_off_is_quarantined_listed_and_reset(settings, es_client, tmp_path, prefect_harness,
                                                                capsys, monkeypatch):
    from datetime import datetime, timezone

    from newswatch.cli import main
    from newswatch.connectors.es import Indices, get_feed_states
    from newswatch.flows.ingest import ingest_flow

    def broken(handler, n):
        handler.send(500, b"feed generator down")

    good = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title></channel></rss>'
    site = RecordingSite("127.0.0.2", {"/good.xml": good}, routes={"/bad.xml": broken})
    s = settings.with_(feed_backoff=2.0, feed_quarantine_after=3)
    feeds = tmp_path / "feeds.txt"
    with site:
        bad = site.url("/bad.xml")
        feeds.write_text(f"{bad}\n{site.url('/good.xml')}\n")

        def run():
            return ingest_flow(str(feeds), overrides=s.public())["counts"]

        def state():
            return get_feed_states(es_client, Indices(s), [bad])[bad]

        def wait_for_next_poll():
            st = state()
            time.sleep(max(0.0, (datetime.fromisoformat(st["next_poll_at"]) - datetime.now(timezone.utc))
                           .total_seconds()) + 0.05)

        def waited(st) -> float:
            return (datetime.fromisoformat(st["next_poll_at"]) - datetime.fromisoformat(st["last_polled_at"])) \
                .total_seconds()

        c = run()
        assert (c["feeds_polled"], c["feeds_failed"], c["feeds_skipped"]) == (2, 1, 0)
        assert state()["status"] == "failing" and waited(state()) == pytest.approx(2.0, abs=0.1)
        c = run()  # within the backoff: the broken feed is not asked, the good one is
        assert (c["feeds_polled"], c["feeds_skipped"], site.hits["/bad.xml"], site.hits["/good.xml"]) == (1, 1, 1, 2)
        wait_for_next_poll()
        assert run()["feeds_failed"] == 1 and site.hits["/bad.xml"] == 2
        assert state()["consecutive_failures"] == 2 and waited(state()) == pytest.approx(4.0, abs=0.1), "doubled"
        assert run()["feeds_skipped"] == 1 and site.hits["/bad.xml"] == 2
        wait_for_next_poll()
        assert run()["feeds_failed"] == 1 and site.hits["/bad.xml"] == 3
        assert state()["status"] == "quarantined" and state()["next_poll_at"] is None
        assert run()["feeds_skipped"] == 1 and site.hits["/bad.xml"] == 3, "a quarantined feed is not polled"

        from newswatch import cli

        monkeypatch.setenv("NEWSWATCH_INDEX_PREFIX", s.index_prefix)
        monkeypatch.setattr(cli.console, "width", 300)  # one line per feed
        capsys.readouterr()
        assert main(["--es-url", s.es_url, "feeds", "list"]) == 0
        out = capsys.readouterr().out
        rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "127.0.0.2" in line}
        cells = {k: [c.strip() for c in r.split("│")[2:6]] for k, r in rows.items()}
        status, last_success, failures, next_poll = cells[bad]
        assert (status, last_success, failures, next_poll) == ("quarantined", "never", "3", "after reset")
        status, last_success, failures, next_poll = cells[site.url("/good.xml")]
        assert status == "ok" and last_success.startswith("20") and failures == "0"
        assert main(["--es-url", s.es_url, "feeds", "reset", bad]) == 0
        c = run()
        assert c["feeds_polled"] == 2 and site.hits["/bad.xml"] == 4, "reset: polled again by the next run"
        assert main(["--es-url", s.es_url, "feeds", "reset", "http://127.0.0.9/never-listed.xml"]) == 1
