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
