"""A run's outcome where people look: its status and reason (pure functions over the run summary), the Prefect
state it ends in, and the summary as a Prefect markdown artifact.

A run that did not do its job ends **Failed** in Prefect, with the reason as the state's message: Elasticsearch
unusable or unreachable for every document, every feed polled failed, alert mail not delivered. Partial failures
(some feeds, some pages) end Completed with status ``completed_with_errors`` and the counts.
"""
from __future__ import annotations

from datetime import datetime

ARTIFACT_KEYS = {"newswatch-ingest": "newswatch-ingest-summary", "newswatch-alerts": "newswatch-alerts-summary",
                 "newswatch-backfill": "newswatch-backfill-summary"}


class RunFailed(Exception):
    """Raised by calling a flow whose run ended Failed; ``summary`` is what the run did (also stored)."""

    def __init__(self, reason: str, summary: dict | None = None):
        super().__init__(reason, summary)  # both in args: the exception survives pickling with its summary
        self.reason, self.summary = reason, summary

    def __str__(self) -> str:
        return self.reason


def failed_state(summary: dict):
    """The Failed state a flow returns for ``summary`` (a state, not an exception: no traceback in the logs)."""
    from prefect.states import Failed

    return Failed(message=summary["reason"], data=RunFailed(summary["reason"], summary))


def alert_failure(alerts: dict | None) -> str | None:
    """Why the alerts of a run count as failed (mail not delivered), or None."""
    if not alerts:
        return None
    broken = {name: r for name, r in (alerts.get("rules") or {}).items() if r.get("error")}
    if not broken:
        return None
    pending = sum(r.get("pending", 0) for r in broken.values())
    name, first = next(iter(sorted(broken.items())))
    return (f"alert mail not delivered for {len(broken)} rule(s) ({name}: {first['error']}); {pending} stories stay "
            f"pending (`newswatch alerts send` once mail works)")


def ingest_status(summary: dict) -> tuple[str, str | None]:
    """``(status, reason)`` of a finished ingest run: ``failed`` (with why), ``completed_with_errors`` or ``ok``."""
    counts, errors = summary.get("counts") or {}, summary.get("errors") or {}
    failed = []
    polled, feeds_failed = counts.get("feeds_polled", 0), counts.get("feeds_failed", 0)
    if polled and feeds_failed == polled:
        first = (errors.get("feeds") or [{}])[0]
        failed.append(f"every feed failed ({feeds_failed} of {polled}; {first.get('feed')}: {first.get('error')})")
    if counts.get("spooled") and not counts.get("indexed"):
        failed.append(f"Elasticsearch unreachable while indexing: all {counts['spooled']} documents spooled "
                      f"(the next run writes them)")
    if errors.get("alerts"):
        failed.append(errors["alerts"])
    elif reason := alert_failure(summary.get("alerts")):
        failed.append(reason)
    if failed:
        return "failed", "; ".join(failed)
    troubles = counts.get("failed") or feeds_failed or counts.get("spooled") or len(errors) > 1
    return ("completed_with_errors" if troubles else "ok"), None


def timing(summary: dict) -> dict:
    """Elapsed seconds and stories indexed per second of a finished run."""
    try:
        elapsed = (datetime.fromisoformat(summary["finished_at"])
                   - datetime.fromisoformat(summary["started_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return {}
    indexed = (summary.get("counts") or {}).get("indexed", 0)
    return {"elapsed_s": round(elapsed, 2), "stories_per_s": round(indexed / elapsed, 2) if elapsed > 0 else None}


_COUNT_LABELS = [("feeds_polled", "feeds polled"), ("feeds_not_modified", "not modified"),
                 ("feeds_failed", "feeds failed"), ("feeds_skipped", "feeds skipped (backoff)"),
                 ("entries_seen", "entries seen"), ("new", "new stories"), ("fetched", "fetched"),
                 ("extracted", "extracted"), ("indexed", "indexed"), ("failed", "pages failed"),
                 ("spooled", "spooled (ES down)"), ("replayed_from_spool", "replayed from spool"),
                 ("entries_rejected", "entries rejected"), ("in_clusters", "in clusters")]


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:300]


def summary_markdown(summary: dict) -> str:
    """The run summary as markdown: status (and why), counts, errors by stage, elapsed, stories/s; an alert
    run's: mails sent and pending stories per rule."""
    lines = [f"## newswatch run `{summary.get('run_id')}`: **{summary.get('status')}**", ""]
    if summary.get("reason"):
        lines += [f"**Why:** {_cell(summary['reason'])}", ""]
    rules = summary.get("rules") or {}
    if rules:
        lines += ["| rule | matched | new | sent | pending | error |", "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {_cell(name)} | {r.get('matched', 0)} | {r.get('new', 0)} | {r.get('sent', 0)} | "
                  f"{r.get('pending', 0)} | {_cell(r.get('error') or '')} |" for name, r in sorted(rules.items())]
        lines.append("")
    counts = summary.get("counts") or {}
    if counts:
        lines += ["| count | value |", "|---|---:|"]
        lines += [f"| {label} | {counts[key]} |" for key, label in _COUNT_LABELS if key in counts]
        known = {key for key, _ in _COUNT_LABELS}
        lines += [f"| {key.replace('_', ' ')} | {value} |" for key, value in counts.items() if key not in known]
        lines.append("")
    by_stage = summary.get("errors_by_stage")
    if by_stage:
        lines += ["| errors by stage | records |", "|---|---:|"]
        lines += [f"| {stage} | {n} |" for stage, n in sorted(by_stage.items())]
        lines.append("")
    feeds = (summary.get("errors") or {}).get("feeds") or []
    if feeds:
        lines += ["| failed feed | error |", "|---|---|"]
        lines += [f"| {_cell(f.get('feed'))} | {_cell(f.get('error'))} |" for f in feeds[:20]]
        if len(feeds) > 20:
            lines.append(f"| … {len(feeds) - 20} more | |")
        lines.append("")
    other = {k: v for k, v in (summary.get("errors") or {}).items() if k != "feeds" and v}
    for key, value in sorted(other.items()):
        lines.append(f"* {key}: {_cell(value)}")
    if "elapsed_s" in summary:
        rate = summary.get("stories_per_s")
        lines.append(f"Elapsed {summary['elapsed_s']:.1f} s" + (f", {rate:.2f} stories/s" if rate is not None else ""))
    return "\n".join(lines).rstrip() + "\n"


def counts_line(summary: dict) -> str:
    """One log line with the run's counts."""
    if "rules" in summary:
        return (f"alerts {summary.get('run_id')} {summary.get('status')}: {summary.get('mails_sent', 0)} digest(s) "
                f"sent with {summary.get('stories_sent', 0)} stories, {summary.get('pending', 0)} pending")
    counts = summary.get("counts") or {}
    parts = [f"{label} {counts[key]}" for key, label in _COUNT_LABELS if counts.get(key)]
    return f"run {summary.get('run_id')} {summary.get('status')}: " + (", ".join(parts) or ("stopped" if summary.get("reason") else "nothing to do")) + (
        f" ({summary['elapsed_s']:.1f} s)" if "elapsed_s" in summary else "")


def publish(flow_name: str, summary: dict, logger) -> None:
    """Log the counts and publish the summary as the run's markdown artifact (a failure to publish is logged, it
    does not change the run's outcome)."""
    (logger.error if summary.get("status") == "failed" else logger.info)(
        counts_line(summary) + (f": {summary['reason']}" if summary.get("reason") else ""))
    try:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(markdown=summary_markdown(summary), key=ARTIFACT_KEYS.get(flow_name),
                                 description=f"{flow_name} run {summary.get('run_id')}: {summary.get('status')}")
    except Exception as exc:  # noqa: BLE001 - the summary is stored in ES and on disk all the same
        logger.warning("run summary not published as a Prefect artifact: %s: %s", type(exc).__name__, exc)
