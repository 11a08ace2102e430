"""The ingestion flow: load feed list -> poll feeds -> run the Beam pipeline -> write the run summary.

Runs in Prefect's ephemeral local mode when no Prefect server is configured, and under a server when
``PREFECT_API_URL`` is set.
"""
from __future__ import annotations

import errno
import json
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from elastic_transport import TransportError
from elasticsearch import ApiError
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from .. import progress
from ..connectors import es as esc
from ..connectors import rates
from ..connectors.feeds import FeedSpec, PollResult, load_feed_list, merge_entries, poll_feed, strip_credentials
from ..connectors.http import Fetcher
from ..pipelines import cpu_pool
from ..pipelines.ingest import COUNTERS as PIPELINE_COUNTERS
from ..pipelines import spool
from ..pipelines.ingest import run_pipeline
from ..pipelines.runner import runner_name
from ..pipelines.warmup import start_workers, warm_up
from ..schemas.records import now, now_iso, run_stamp
from ..settings import Settings
from . import outcome, unpersisted


def load_feeds(feeds_file: str) -> list[FeedSpec]:
    """The feed list (a local file, read in the flow itself: a task's bookkeeping would cost more than the read)."""
    specs = load_feed_list(feeds_file)
    get_run_logger().info("%d feeds in %s", len(specs), feeds_file)
    return specs


def prepare_es(settings: Settings) -> dict:
    """Check that Elasticsearch answers and create what is missing (in the flow itself: a task's bookkeeping is a
    noticeable share of a run over unchanged feeds); retried after 2 s and 10 s."""
    def prepare() -> dict:
        es = esc.make_client(settings)
        health = esc.check_reachable(es)
        esc.ensure_indices(es, settings)
        return {"status": health.get("status")}

    return _retried("Elasticsearch not ready", prepare)


@task(name="replay-spool", cache_policy=NO_CACHE)
def replay_spool(settings: Settings) -> list[str]:
    """Write documents spooled by an earlier run that could not reach Elasticsearch; returns story ids."""
    return spool.replay(settings, esc.make_client(settings), get_run_logger())


@task(name="poll-feeds", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def poll_feeds(settings: Settings, specs: list[FeedSpec], run_id: str, cpu_workers: int = 0) -> dict:
    """Poll every feed (concurrently, conditional GET) and keep their state in ES. Feeds are parsed in the
    extraction worker processes when those are already up (feedparser is pure-Python CPU work)."""
    logger = get_run_logger()
    es = esc.make_client(settings)
    ix = esc.Indices(settings)
    from ..connectors import feed_health

    started = now()
    states = esc.get_feed_states(es, ix, [s.url for s in specs])
    # a failing feed waits for its next poll time; a quarantined one for `newswatch feeds reset`
    urls = [s.url for s in specs if feed_health.due(states.get(s.url), started)]
    fetcher = Fetcher(settings)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(urls)))) as pool:
        parse = partial(cpu_pool.call, cpu_workers)
        results: list[PollResult] = list(pool.map(lambda u: poll_feed(fetcher, u, states.get(u), parse), urls))
    new_states, errors = [], []
    for res in results:
        prev = states.get(res.feed, {})
        state = feed_health.next_feed_state(prev, res, started, settings.feed_backoff, settings.feed_quarantine_after)
        errors += feed_health.poll_errors(res, run_id)
        if res.status == "error":
            logger.warning("feed %s: %s", strip_credentials(res.feed), feed_health.shown_error(res))
        if state["status"] == "quarantined" and prev.get("status") != "quarantined":
            logger.warning("feed %s quarantined after %d failures in a row (newswatch feeds reset URL to poll "
                           "it again)", strip_credentials(res.feed), state["consecutive_failures"])
        new_states.append(state)
    esc.write_errors(es, ix, errors)
    merged = merge_entries(results, specs, run_id)
    known: set[str] = set()
    if merged:
        # every run refreshes the stories it wrote when its pipeline ends, but one that died before that may
        # have left stories not yet searchable (refresh_interval is 30 s): make them so (~3 ms when none are)
        es.indices.refresh(index=ix.stories)
        known = esc.existing_ids(es, ix.stories, list(merged))
    new = [d for sid, d in merged.items() if sid not in known]
    esc.add_feeds_to_known(es, ix, {sid: merged[sid]["feeds"] for sid in known})
    return {
        "feeds_polled": len(urls),
        "feeds_skipped": len(specs) - len(urls),
        "feeds_ok": sum(r.status == "ok" for r in results),
        "feeds_not_modified": sum(r.status == "not_modified" for r in results),
        "feeds_failed": sum(r.status == "error" for r in results),
        "entries_seen": sum(len(r.entries) for r in results),
        "unique_stories": len(merged),
        "new": len(new),
        "entries_rejected": sum(len(r.rejected_entries) for r in results),
        "feed_errors": [{"feed": strip_credentials(r.feed), "error": feed_health.shown_error(r),
                         "kind": r.error_kind} for r in results if r.status == "error"],
        "new_entries": new,
        # committed only after the pipeline has indexed (or spooled) the stories: a run that dies before
        # that leaves the old ETag/Last-Modified, so the next run sees the feed as changed and redoes it
        "feed_states": new_states,
    }


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


@task(name="run-beam-pipeline", cache_policy=NO_CACHE)
def beam_stage(settings: Settings, entries: list[dict], beam_args: list[str]) -> dict:
    try:
        counts = run_pipeline(entries, settings, beam_args)
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        # returned, not raised: one line in the summary and Prefect's state, not a traceback per layer
        return {"disk_error": f"cannot write {exc.filename or settings.effective_staging_dir}: {exc.strerror} "
                              f"(NEWSWATCH_HOME={settings.home}); free some space: the new stories are fetched "
                              f"again next run"}
    es = esc.make_client(settings)
    try:
        es.indices.refresh(index=f"{settings.index('stories')},{settings.index('errors')}")
    except Exception as exc:  # ES gone: the summary says so, the spool keeps the documents
        get_run_logger().error("refresh failed: %s", exc)
    return counts


def cluster_copies(settings: Settings, story_ids: list[str]) -> dict:
    """Group the run's stories with their syndicated copies (:mod:`newswatch.clustering`); a failure is recorded
    and the run goes on (the stories stay clusters of their own)."""
    from ..clustering import cluster_stories

    if settings.cluster_window_days <= 0:  # NEWSWATCH_CLUSTER_WINDOW_DAYS=0: copies are not looked for
        return {}
    try:
        return cluster_stories(esc.make_client(settings), settings, story_ids)
    except Exception as exc:  # noqa: BLE001 - the stories are indexed; ungrouped copies only count twice
        get_run_logger().error("syndicated copies not grouped: %s: %s", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def indexed_ids(settings: Settings, ids: list[str]) -> list[str]:
    """The stories of this run that are now in the index (what alert rules are evaluated against). One query,
    in the flow itself: as a task, Prefect would also walk the returned list looking for futures."""
    if not ids:
        return []
    try:
        return sorted(esc.existing_ids(esc.make_client(settings), settings.index("stories"), ids))
    except (ApiError, TransportError) as exc:
        get_run_logger().error("could not list indexed stories: %s", exc)
        return []


RETRY_DELAYS = (2, 10)  # seconds before the second and third attempt of a step that retries


def _retried(what: str, step):
    """``step()``, tried again after each of :data:`RETRY_DELAYS` if it raises (the last failure is raised)."""
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - whatever failed is tried again, and the last failure raised
            if delay is None:
                raise
            get_run_logger().warning("%s (attempt %d): %s; again in %d s", what, attempt + 1, exc, delay)
            time.sleep(delay)


def commit_feed_states(settings: Settings, states: list[dict]) -> None:
    """Store the feeds' new state (one bulk request, in the flow itself); retried after 2 s and 10 s."""
    _retried("feed states not stored",
             lambda: esc.put_feed_states(esc.make_client(settings), esc.Indices(settings), states))


def write_summary(settings: Settings, summary: dict) -> dict:
    """Store the run summary in ES and on disk (in the flow itself: it handles its own failures, and the summary
    is the flow's result)."""
    try:
        esc.write_run(esc.make_client(settings), esc.Indices(settings), summary)
    except (ApiError, TransportError) as exc:  # the summary is still written to disk below
        get_run_logger().error("could not store the run summary in ES: %s", exc)
        summary["summary_stored"] = False
    out = Path(settings.home) / "runs"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{summary['run_id']}.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def errors_by_stage(settings: Settings, run_id: str) -> dict | None:
    """The run's error records counted by stage (one aggregation; None if Elasticsearch does not answer)."""
    try:
        es = esc.make_client(settings).options(request_timeout=5, max_retries=0)
        index = settings.index("errors")
        es.indices.refresh(index=index)
        resp = es.search(index=index, size=0, query={"term": {"run_id": run_id}},
                         aggs={"stage": {"terms": {"field": "stage", "size": 20}}})
    except Exception as exc:  # the summary goes without it
        get_run_logger().warning("errors by stage not counted: %s: %s", type(exc).__name__, exc)
        return None
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["stage"]["buckets"]}


@flow(name="newswatch-ingest", log_prints=True, **unpersisted())
def ingest_flow(feeds_file: str, beam_args: list[str] | None = None, overrides: dict | None = None) -> dict:
    """``overrides``: non-secret settings (see ``Settings.public``); secrets come from the environment.

    Returns the run summary; a run that failed (see :mod:`newswatch.flows.outcome`) ends Failed in Prefect, and
    calling the flow then raises :class:`~newswatch.flows.outcome.RunFailed` with the summary."""
    settings = Settings.from_public(overrides)
    summary = _ingest(settings, feeds_file, beam_args, overrides)
    summary.update(outcome.timing(summary))
    counts = summary.get("counts") or {}
    if any(counts.get(k) for k in ("failed", "feeds_failed", "entries_rejected", "spooled")):
        summary["errors_by_stage"] = errors_by_stage(settings, summary["run_id"])
    elif counts:  # a run without a failure asks Elasticsearch nothing more
        summary["errors_by_stage"] = {}
    write_summary(settings, summary)
    outcome.publish("newswatch-ingest", summary, get_run_logger())
    return outcome.failed_state(summary) if summary["status"] == "failed" else summary


def _ingest(settings: Settings, feeds_file: str, beam_args: list[str] | None, overrides: dict | None) -> dict:
    run_id = run_stamp()
    runner = runner_name(beam_args)
    summary = {"run_id": run_id, "flow_run_id": flow_run.get_id(), "started_at": now_iso(), "runner": runner,
               "feeds_file": str(feeds_file), "counts": {}, "errors": {"feeds": []}, "story_ids": []}
    cpu_workers = warm_up(settings, beam_args)  # the extraction workers start while the feeds are polled
    specs = load_feeds(feeds_file)
    try:
        prepare_es(settings)
    except Exception as exc:  # nothing was fetched yet: say clearly why, keep the summary on disk
        summary.update(status="failed", finished_at=now_iso(),
                       reason=f"Elasticsearch at {settings.effective_es_url} is not usable: {exc}")
        return summary
    es = esc.make_client(settings)
    ix = esc.Indices(settings)
    lock = esc.acquire_lock(es, ix, "ingest", owner=run_id, ttl_seconds=settings.lock_ttl)
    if lock is None:
        holder = esc.lock_holder(es, ix, "ingest") or {}
        summary.update(status="skipped", finished_at=now_iso(),
                       reason=f"another ingest run is in progress ({holder.get('owner')} on "
                              f"{holder.get('host')}, pid {holder.get('pid')})")
        return summary
    try:
        # a task only when there is something to replay (the usual case is an empty spool)
        replayed = replay_spool(settings) if spool.pending(settings) else []
        polled = poll_feeds(settings, specs, run_id, cpu_workers)
        entries = polled.pop("new_entries")
        if entries:
            summary["rates"] = rates.prefetch_for_entries(settings, entries)  # before extraction needs them
            # quote(): Prefect would otherwise walk every entry of these lists looking for futures to resolve
            with progress.Reporter(len(entries), get_run_logger()):
                counts = beam_stage(settings, quote(entries), list(beam_args or []))
            if "disk_error" in counts:  # the feed states stay uncommitted: the next run sees these entries again
                summary.update(status="failed", finished_at=now_iso(), reason=counts["disk_error"])
                return summary
            story_ids = indexed_ids(settings, [e["id"] for e in entries])
            summary["per_feed"] = per_feed_counts(entries, story_ids)
            summary["rates"]["after_run"] = rates.fetch_missing(settings, es, story_ids)
        else:  # nothing new (every feed unchanged or known): no pipeline to start
            counts, story_ids = dict.fromkeys(PIPELINE_COUNTERS, 0), []
        # within the lock: two runs grouping the same stories at once could each start a cluster
        clusters = cluster_copies(settings, sorted(set(story_ids) | set(replayed))) if story_ids or replayed else {}
        try:
            commit_feed_states(settings, polled.pop("feed_states"))
        except Exception as exc:  # safe: the next run polls these feeds again and skips known stories
            summary["errors"]["feed_state"] = f"feed state not saved ({exc}); feeds will be re-polled"
    finally:
        try:
            esc.release_lock(es, ix, "ingest", owner=run_id)
        except Exception as exc:  # the lock expires (or is taken over once this process is gone)
            summary["errors"]["lock"] = f"could not release the ingest lock: {exc}"
    summary.update(
        finished_at=now_iso(),
        counts={
            "feeds_polled": polled["feeds_polled"], "feeds_not_modified": polled["feeds_not_modified"],
            "feeds_failed": polled["feeds_failed"], "entries_seen": polled["entries_seen"],
            "new": polled["new"], "fetched": counts["fetched"], "extracted": counts["extracted"],
            "indexed": counts["indexed"], "failed": counts["failed"], "spooled": counts["spooled"],
            "replayed_from_spool": len(replayed), "entries_rejected": polled["entries_rejected"],
            "feeds_skipped": polled["feeds_skipped"],
        },
        errors={**summary["errors"], "feeds": polled["feed_errors"]},
        story_ids=sorted(set(story_ids) | set(replayed)),
    )
    if clusters.get("error"):
        summary["errors"]["clusters"] = clusters.pop("error")
    summary["counts"]["in_clusters"] = clusters.get("in_clusters", 0)
    if lock.get("took_over_from"):
        summary["lock_taken_over_from"] = lock["took_over_from"]
    if settings.smtp_host:  # alerts follow every ingestion when mail is configured
        try:
            from .alert import alert_flow

            summary["alerts"] = alert_flow(story_ids=summary["story_ids"], overrides=overrides)
        except outcome.RunFailed as exc:  # mail not delivered: the alerts stay pending, the run says so
            summary["alerts"] = exc.summary
        except Exception as exc:  # the stories are safe in ES; `newswatch alerts send` can catch up later
            summary["errors"]["alerts"] = f"alerts not evaluated: {type(exc).__name__}: {exc}"
    summary["status"], reason = outcome.ingest_status(summary)
    if reason:
        summary["reason"] = reason
    return summary


def per_feed_counts(entries: list[dict], story_ids: list[str]) -> dict[str, dict[str, int]]:
    """Per feed: its new entries this run and how many of them were indexed (a story two feeds list counts for
    both)."""
    indexed = set(story_ids)
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        for feed in e.get("feeds") or [e.get("feed") or "?"]:
            row = out.setdefault(feed, {"new": 0, "indexed": 0})
            row["new"] += 1
            row["indexed"] += e["id"] in indexed
    return out


def run_ingest(feeds_file: str, beam_args: list[str] | None = None, overrides: dict | None = None) -> dict:
    """Run the ingest flow once, as the CLI and the benchmarks do (see :func:`newswatch.flows.run_local`)."""
    from . import run_local

    # the extraction workers take about a second to start (imports): start them before Prefect creates the
    # flow run, not only when the flow body begins; the flow's own warm_up() then finds them starting
    start_workers(Settings.from_public(overrides), beam_args)
    return run_local(ingest_flow, feeds_file, beam_args=beam_args, overrides=overrides)
