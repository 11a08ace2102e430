"""Feed health: a failing feed is polled less and less often (exponential backoff), and quarantined after
``feed_quarantine_after`` failures in a row; ``newswatch feeds reset URL`` puts it back. Pure functions over the
feed's stored state (the caller keeps it in the feeds index)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

MAX_BACKOFF = 86400.0  # a failing feed is still tried once a day until it is quarantined


def _parse(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def due(state: dict | None, now: datetime) -> bool:
    """Whether the feed is polled in a run starting ``now``: not quarantined, and its next poll time reached."""
    if not state:
        return True
    if state.get("status") == "quarantined":
        return False
    next_at = _parse(state.get("next_poll_at"))
    return next_at is None or next_at <= now


def after_poll(prev: dict | None, ok: bool, now: datetime, backoff: float, quarantine_after: int) -> dict:
    """The health fields of the feed's state after a poll that succeeded (``ok``: fetched, or not modified) or
    failed."""
    prev = prev or {}
    if ok:
        return {"status": "ok", "consecutive_failures": 0, "next_poll_at": None, "quarantined_at": None,
                "last_success_at": now.isoformat()}
    failures = int(prev.get("consecutive_failures") or 0) + 1
    wait = min(MAX_BACKOFF, backoff * 2 ** (failures - 1))
    quarantined = failures >= quarantine_after
    return {"status": "quarantined" if quarantined else "failing", "consecutive_failures": failures,
            "next_poll_at": None if quarantined else (now + timedelta(seconds=wait)).isoformat(),
            "quarantined_at": now.isoformat() if quarantined else None,
            "last_success_at": prev.get("last_success_at")}


def reset(state: dict) -> dict:
    """The state of a feed put back in service: polled by the next run."""
    return {**state, "status": "ok", "consecutive_failures": 0, "next_poll_at": None, "quarantined_at": None}


def next_feed_state(prev: dict | None, res, polled_at: datetime, backoff: float, quarantine_after: int) -> dict:
    """The feed's stored state after the poll ``res`` (a :class:`~newswatch.connectors.feeds.PollResult`)."""
    from .feeds import strip_credentials

    prev = prev or {}
    # the feed's credentials (kept in the feeds file, used to fetch it) are not stored
    state = {"url": strip_credentials(res.feed), "title": res.title or prev.get("title"), "last_polled_at": polled_at.isoformat(),
             "last_status": res.status, "etag": prev.get("etag"), "last_modified": prev.get("last_modified"),
             "last_changed_at": prev.get("last_changed_at"), "last_error": None,
             "consecutive_failures": 0, "entries_last_seen": len(res.entries)}
    if res.status == "ok":
        state.update(etag=res.etag, last_modified=res.last_modified, last_changed_at=polled_at.isoformat())
    elif res.status == "not_modified":
        state["entries_last_seen"] = prev.get("entries_last_seen", 0)
    else:
        state.update(last_error=shown_error(res))
    state.update(after_poll(prev, res.status != "error", polled_at, backoff, quarantine_after))
    return state


def shown_error(res) -> str:
    """The poll's error as stored and logged: every URL in it without credentials."""
    from .http import without_credentials

    return without_credentials(res.error or "feed error")


def poll_errors(res, run_id: str) -> list[dict]:
    """Error records of one poll: the feed's own failure and each entry it rejected."""
    from ..schemas.records import error_record
    from .feeds import strip_credentials

    feed = strip_credentials(res.feed)  # a feed's own credentials stay in the feeds file
    errors = []
    if res.status == "error":
        errors.append(error_record("poll", shown_error(res), feed=feed, url=feed,
                                   error_type=res.error_kind, http_status=res.http_status, run_id=run_id))
    errors += [error_record("poll", f"entry rejected: {rej.get('reason')}", feed=feed, url=rej.get("link"),
                            error_type="bad_entry", run_id=run_id) for rej in res.rejected_entries]
    return errors
