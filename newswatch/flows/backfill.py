"""The backfill flow: a site's older stories, from its sitemaps, through the same pipeline as the feeds' stories.

Sitemaps are found in the site's robots.txt (else at the usual locations) and walked with trafilatura's sitemap
search over newswatch's polite fetcher; the stories dated ``since`` or later (newest first, at most
``max_stories``) that are not stored yet are fetched, extracted, enriched, indexed and grouped with their copies,
under the same lock as an ingest run.
"""
from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from ..connectors import es as esc
from ..connectors.discovery import select_backfill, sitemap_urls
from ..connectors.feeds import canonicalize, story_id
from ..connectors.http import Fetcher
from ..connectors.polite import PoliteFetcher
from ..pipelines.ingest import COUNTERS as PIPELINE_COUNTERS
from ..schemas.records import now_iso, run_stamp
from ..settings import Settings
from . import outcome, unpersisted
from .ingest import beam_stage, cluster_copies, indexed_ids, prepare_es, write_summary


def parse_since(value: str) -> datetime:
    """'2024-05-01' (or an ISO 8601 time) -> an aware datetime; ValueError with the expected form otherwise."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since wants a date such as 2024-05-01; got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@flow(name="newswatch-backfill", log_prints=True, **unpersisted())
def backfill_flow(site_url: str, since: str, max_stories: int = 500, include_undated: bool = False,
                  max_sitemaps: int = 50, beam_args: list[str] | None = None, overrides: dict | None = None) -> dict:
    logger = get_run_logger()
    settings = Settings.from_public(overrides)
    run_id = run_stamp("backfill-")
    summary = {"run_id": run_id, "started_at": now_iso(), "runner": "backfill", "site": site_url, "since": since,
               "counts": {}, "errors": {}, "story_ids": []}
    since_at = parse_since(since)
    try:
        prepare_es(settings)
    except Exception as exc:  # noqa: BLE001 - nothing was fetched yet: the summary says why, whatever it was
        summary.update(status="failed", finished_at=now_iso(),
                       reason=f"Elasticsearch at {settings.effective_es_url} is not usable: {exc}")
        return _finish(settings, summary)
    es, ix = esc.make_client(settings), esc.Indices(settings)
    lock = esc.acquire_lock(es, ix, "ingest", owner=run_id, ttl_seconds=settings.lock_ttl)
    if lock is None:
        holder = esc.lock_holder(es, ix, "ingest") or {}
        summary.update(status="skipped", finished_at=now_iso(),
                       reason=f"an ingest run is in progress ({holder.get('owner')}); try again when it is done")
        return _finish(settings, summary)
    polite = PoliteFetcher(Fetcher(settings))
    try:
        robots = polite.robots.sitemaps(site_url) if polite.robots is not None else []
        found = sitemap_urls(polite, site_url, max_sitemaps=max_sitemaps, robots_sitemaps=robots)
        allowed = {u: d for u, d in found.urls.items() if polite.allowed(u)}  # before --max counts them
        chosen, undated = select_backfill(allowed, since_at, max_stories, include_undated)
        logger.info("%s: %d sitemaps, %d story URLs, %d since %s (%d without a date%s); %d taken",
                    site_url, len(found.sitemaps), len(found.urls),
                    sum(1 for d in found.urls.values() if d and d >= since_at), since, undated,
                    ", taken last" if include_undated else ", left out", len(chosen))
        entries: dict[str, dict] = {}
        for url, date in chosen:
            canonical = canonicalize(url)
            if canonical:
                sid = story_id(canonical)
                entries.setdefault(sid, {"id": sid, "link": url, "canonical_url": canonical, "title": None,
                                         "published_at": date.isoformat() if date else None, "author": None,
                                         "feeds": [], "run_id": run_id})
        known = esc.existing_ids(es, ix.stories, list(entries)) if entries else set()
        new = [e for sid, e in entries.items() if sid not in known]
        if new:
            counts = beam_stage(settings, quote(new), list(beam_args or []))
            story_ids = indexed_ids(settings, [e["id"] for e in new])
        else:
            counts, story_ids = dict.fromkeys(PIPELINE_COUNTERS, 0), []
        clusters = cluster_copies(settings, story_ids) if story_ids else {}
    finally:
        polite.shutdown()
        try:
            esc.release_lock(es, ix, "ingest", owner=run_id)
        except Exception as exc:  # noqa: BLE001 - the lock expires (or is taken over once this process is gone)
            summary["errors"]["lock"] = f"could not release the ingest lock: {exc}"
    if found.errors:
        summary["errors"]["sitemaps"] = found.errors[:20]
    if clusters.get("error"):
        summary["errors"]["clusters"] = clusters.pop("error")
    summary.update(finished_at=now_iso(), story_ids=sorted(story_ids), counts={
        "sitemaps": len(found.sitemaps), "urls_found": len(found.urls), "undated": undated,
        "disallowed": len(found.urls) - len(allowed),
        "selected": len(chosen), "known": len(known), "new": len(new), "fetched": counts["fetched"],
        "extracted": counts["extracted"], "indexed": counts["indexed"], "failed": counts["failed"],
        "spooled": counts["spooled"], "in_clusters": clusters.get("in_clusters", 0)})
    troubles = counts["failed"] or counts["spooled"] or summary["errors"]
    summary["status"] = "completed_with_errors" if troubles else "ok"
    if counts["spooled"] and not counts["indexed"]:
        summary.update(status="failed", reason=f"Elasticsearch unreachable while indexing: all {counts['spooled']} "
                                               f"documents spooled (the next run writes them)")
    return _finish(settings, summary)


def _finish(settings: Settings, summary: dict):
    """Store and publish the summary; a failed backfill ends Failed in Prefect (see :mod:`.outcome`)."""
    summary.update(outcome.timing(summary))
    write_summary(settings, summary)
    outcome.publish("newswatch-backfill", summary, get_run_logger())
    return outcome.failed_state(summary) if summary["status"] == "failed" else summary


def run_backfill(site_url: str, since: str, **kwargs) -> dict:
    from . import run_local

    return run_local(backfill_flow, site_url, since, **kwargs)
