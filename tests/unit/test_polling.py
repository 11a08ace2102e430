"""Polling's pure half: a feed's next state and error records from one poll, and the run's entries merged per
story — no Elasticsearch, no HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from newswatch.connectors.feed_health import next_feed_state, poll_errors
from newswatch.connectors.feeds import Entry, FeedSpec, PollResult, merge_entries

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
A, B = "https://a.example/feed", "https://b.example/rss"


def _entry(feed: str, n: int) -> Entry:
    url = f"https://news.example/story/{n}"
    return Entry(id=f"id{n}", link=url, canonical_url=url, feed=feed, title=f"Story {n}")


def test_a_good_poll_keeps_validators_and_clears_failures():
    prev = {"etag": "old", "consecutive_failures": 2, "status": "failing", "title": "A wire"}
    res = PollResult(A, "ok", entries=[_entry(A, 1), _entry(A, 2)], etag='"v2"', last_modified="Wed, 02 Dec 2026")
    state = next_feed_state(prev, res, T0, backoff=60, quarantine_after=5)
    assert (state["etag"], state["last_modified"], state["last_changed_at"]) == ('"v2"', "Wed, 02 Dec 2026",
                                                                                 T0.isoformat())
    assert (state["status"], state["consecutive_failures"], state["entries_last_seen"]) == ("ok", 0, 2)
    assert state["title"] == "A wire" and state["last_success_at"] == T0.isoformat()


def test_not_modified_keeps_what_was_seen_and_the_validators():
    prev = {"etag": '"v1"', "last_modified": "x", "entries_last_seen": 7, "last_changed_at": "2026-12-01T00:00:00+00:00"}
    state = next_feed_state(prev, PollResult(A, "not_modified"), T0, backoff=60, quarantine_after=5)
    assert (state["etag"], state["entries_last_seen"], state["last_changed_at"]) == ('"v1"', 7, prev["last_changed_at"])


def test_failures_back_off_then_quarantine_and_each_is_an_error_record():
    res = PollResult(A, "error", error="HTTP 500", error_kind="http_error", http_status=500,
                     rejected_entries=[{"link": "ftp://x/1", "reason": "link is not http(s)"}])
    state = next_feed_state({"consecutive_failures": 1, "etag": '"v1"'}, res, T0, backoff=60, quarantine_after=3)
    assert (state["status"], state["consecutive_failures"], state["last_error"]) == ("failing", 2, "HTTP 500")
    assert state["next_poll_at"] == (T0 + timedelta(seconds=120)).isoformat() and state["etag"] == '"v1"'
    third = next_feed_state(state, res, T0, backoff=60, quarantine_after=3)
    assert (third["status"], third["next_poll_at"], third["quarantined_at"]) == ("quarantined", None, T0.isoformat())
    errors = poll_errors(res, "run-1")
    assert [(e["error_type"], e["url"], e["http_status"]) for e in errors] == [("http_error", A, 500),
                                                                               ("bad_entry", "ftp://x/1", None)]
    assert len({e["_id"] for e in errors}) == 2 and not poll_errors(PollResult(B, "ok"), "run-1")


def test_a_story_listed_by_two_feeds_is_one_entry_with_both_outlets():
    specs = [FeedSpec(A, name="A Wire", tags=["asia"], lang="en"), FeedSpec(B, name="B Daily", tags=["asia", "kz"])]
    results = [PollResult(A, "ok", entries=[_entry(A, 1), _entry(A, 2)], title="A feed"),
               PollResult(B, "error", entries=[_entry(B, 2), _entry(B, 3)], title="B feed")]  # salvaged entries count
    merged = merge_entries(results, specs, "run-1")
    assert list(merged) == ["id1", "id2", "id3"]
    both = merged["id2"]
    assert both["feeds"] == [A, B] and both["source_name"] == "A Wire" and both["feed_title"] == "A feed"
    assert both["source_tags"] == ["asia", "kz"] and both["lang"] == "en" and both["run_id"] == "run-1"
    assert merged["id3"]["source_name"] == "B Daily" and merged["id3"]["lang"] is None
