"""A run's outcome from its summary: which runs fail (and say why), which stay Completed with their counts, and
the markdown the Prefect artifact shows."""
from __future__ import annotations

import pickle

from newswatch.flows.outcome import RunFailed, ingest_status, summary_markdown, timing


def _summary(**counts) -> dict:
    base = {"feeds_polled": 2, "feeds_failed": 0, "new": 5, "fetched": 5, "indexed": 5, "failed": 0, "spooled": 0}
    return {"run_id": "r1", "counts": {**base, **counts}, "errors": {"feeds": []},
            "started_at": "2026-12-03T08:00:00+00:00", "finished_at": "2026-12-03T08:00:10+00:00"}


def test_a_clean_run_is_ok_and_partial_failures_stay_completed():
    assert ingest_status(_summary()) == ("ok", None)
    assert ingest_status(_summary(failed=2, indexed=3)) == ("completed_with_errors", None)
    partial = _summary(feeds_failed=1)
    partial["errors"]["feeds"] = [{"feed": "http://a/feed", "error": "HTTP 500", "kind": "http_error"}]
    assert ingest_status(partial) == ("completed_with_errors", None)
    assert ingest_status(_summary(spooled=2, indexed=3)) == ("completed_with_errors", None)  # ES lost mid-run
    assert ingest_status(_summary(feeds_polled=0, new=0, fetched=0, indexed=0)) == ("ok", None)  # all backing off


def test_every_feed_failing_fails_the_run_and_says_which():
    s = _summary(feeds_failed=2, new=0, fetched=0, indexed=0)
    s["errors"]["feeds"] = [{"feed": "http://a/feed", "error": "HTTP 500", "kind": "http_error"},
                            {"feed": "http://b/feed", "error": "timeout", "kind": "timeout"}]
    status, reason = ingest_status(s)
    assert status == "failed" and reason.startswith("every feed failed (2 of 2; http://a/feed: HTTP 500)")


def test_nothing_indexed_because_es_went_away_fails_the_run():
    status, reason = ingest_status(_summary(indexed=0, spooled=5))
    assert status == "failed" and "all 5 documents spooled" in reason


def test_undelivered_alert_mail_fails_the_run():
    s = _summary()
    s["alerts"] = {"rules": {"kz": {"matched": 3, "sent": 0, "pending": 3, "error": "connection refused"},
                             "uz": {"matched": 0, "sent": 0, "pending": 0, "error": None}}, "pending": 3}
    status, reason = ingest_status(s)
    assert status == "failed" and "alert mail not delivered for 1 rule(s) (kz: connection refused)" in reason
    assert "3 stories stay pending" in reason
    s["alerts"]["rules"]["kz"].update(error=None, sent=3, pending=0)
    assert ingest_status(s) == ("ok", None)
    s["errors"]["alerts"] = "alerts not evaluated: ConnectionError: ..."
    assert ingest_status(s)[0] == "failed"


def test_the_artifact_shows_counts_errors_by_stage_elapsed_and_rate():
    s = {**_summary(failed=1, indexed=4), "status": "completed_with_errors"}
    s.update(timing(s), errors_by_stage={"fetch": 1, "poll": 2})
    assert (s["elapsed_s"], s["stories_per_s"]) == (10.0, 0.4)
    md = summary_markdown(s)
    assert "## newswatch run `r1`: **completed_with_errors**" in md
    assert "| indexed | 4 |" in md and "| pages failed | 1 |" in md
    assert "| fetch | 1 |" in md and "| poll | 2 |" in md
    assert "Elapsed 10.0 s, 0.40 stories/s" in md
    failed = {"run_id": "r2", "status": "failed", "reason": "Elasticsearch at http://x:9200 is not usable: a|b",
              "counts": {}}
    assert "**Why:** Elasticsearch at http://x:9200 is not usable: a\\|b" in summary_markdown(failed)


def test_the_failure_keeps_its_summary_across_processes():
    exc = pickle.loads(pickle.dumps(RunFailed("every feed failed", {"run_id": "r1"})))
    assert str(exc) == "every feed failed" and exc.summary == {"run_id": "r1"}


def test_counts_of_other_runs_are_listed_too():
    md = summary_markdown({"run_id": "b1", "status": "ok", "counts": {"sitemaps": 3, "urls_found": 40, "indexed": 5}})
    assert "| indexed | 5 |" in md and "| sitemaps | 3 |" in md and "| urls found | 40 |" in md
