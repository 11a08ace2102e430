"""The records every layer writes besides stories: the clock they are stamped with and error records."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone


def now() -> datetime:
    """The one clock of newswatch: aware UTC."""
    return datetime.now(timezone.utc)


def now_iso() -> str:
    return now().isoformat()


def run_stamp(prefix: str = "") -> str:
    """A run id: the UTC time to the second and six random hex digits."""
    import uuid

    return f"{prefix}{now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def error_record(stage: str, reason: str, *, url: str | None = None, feed: str | None = None,
                 story_id: str | None = None, error_type: str | None = None, http_status: int | None = None,
                 run_id: str | None = None) -> dict:
    """A document of the errors index; its id is stable per run, stage and URL so a retried write is one record."""
    rec = {"at": now_iso(), "run_id": run_id, "stage": stage, "url": url, "feed": feed,
           "story_id": story_id, "error_type": error_type or stage + "_error", "reason": reason[:4000],
           "http_status": http_status}
    key = f"{run_id}|{stage}|{url or feed}|{story_id}"
    rec["_id"] = hashlib.sha256(key.encode()).hexdigest()[:32]
    return rec
