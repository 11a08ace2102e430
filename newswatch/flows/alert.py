"""The alert flow: evaluate rules on the stories just indexed, record matches, mail one digest per rule."""
from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from ..alerting import engine
from ..alerting.digest import build_digest
from ..alerting.rules import load_rules
from ..connectors import es as esc
from ..connectors.smtp import SmtpError, send
from ..schemas.records import error_record, now, run_stamp
from ..settings import Settings
from . import outcome, unpersisted


@task(name="evaluate-alert-rules", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def evaluate_rules(settings: Settings, story_ids: list[str] | None, since_hours: float | None) -> dict:
    es = esc.make_client(settings)
    ix = esc.Indices(settings)
    rules = [r for r in load_rules(settings.rules_file) if r.enabled]
    engine.ensure_alert_indices(es, ix)
    engine.validate_on_server(es, ix, rules)
    engine.store_rules(es, ix, rules)
    since = now() - timedelta(hours=since_hours) if since_hours else None
    out = {}
    for rule in rules:
        hits = engine.match(es, ix, rule, story_ids=story_ids, since=since)
        hits.sort(key=lambda h: not h.get("cluster_lead", True))  # a cluster is recorded with its lead story
        out[rule.name] = {"matched": len(hits), "new": engine.record(
            es, ix, rule, [h["_id"] for h in hits], clusters={h["_id"]: h.get("cluster_id") for h in hits})}
    return out


@task(name="deliver-digests", cache_policy=NO_CACHE)
def deliver(settings: Settings, run_id: str) -> dict:
    logger = get_run_logger()
    es = esc.make_client(settings)
    ix = esc.Indices(settings)
    out = {}
    for rule in (r for r in load_rules(settings.rules_file) if r.enabled):
        claimed = engine.claim(es, ix, rule, run_id, lease=settings.alert_lease)
        result = {"sent": 0, "pending": 0, "error": None}
        if claimed:
            ids = [c["story_id"] for c in claimed]
            resp = es.search(index=ix.stories, query={"ids": {"values": ids}}, size=len(ids),
                             sort=[{"published_at": {"order": "desc", "missing": "_last"}}])
            stories = [h["_source"] for h in resp["hits"]["hits"]]
            msg = build_digest(rule, stories, settings.smtp_from)
            try:
                send(settings, msg)
            except SmtpError as exc:
                engine.finish(es, ix, claimed, sent=False, error=str(exc))
                esc.write_errors(es, ix, [error_record("alert", f"rule {rule.name}: {exc}", run_id=run_id,
                                                           error_type="smtp_error")])
                logger.error("alert %s: %d stories stay pending: %s", rule.name, len(claimed), exc)
                result.update(pending=len(claimed), error=str(exc))
            else:
                engine.finish(es, ix, claimed, sent=True, message_id=msg["Message-ID"])
                result["sent"] = len(claimed)
                logger.info("alert %s: digest with %d stories sent to %s", rule.name, len(claimed), rule.recipients)
        out[rule.name] = result
    return out


@flow(name="newswatch-alerts", **unpersisted())
def alert_flow(story_ids: list[str] | None = None, since_hours: float | None = None,
               overrides: dict | None = None) -> dict:
    """Alerts for ``story_ids`` (the stories an ingest run just indexed) or, run on its own, for the stories
    ingested in the last ``since_hours``; then deliver everything pending (including earlier failures)."""
    settings = Settings.from_public(overrides)
    run_id = run_stamp("alerts-")
    matched = evaluate_rules(settings, story_ids, since_hours if story_ids is None else None)
    delivered = deliver(settings, run_id)
    rules = {name: {**matched.get(name, {}), **delivered.get(name, {})} for name in {*matched, *delivered}}
    result = {"run_id": run_id, "rules": rules, "mails_sent": sum(1 for r in rules.values() if r.get("sent")),
              "stories_sent": sum(r.get("sent", 0) for r in rules.values()),
              "pending": sum(r.get("pending", 0) for r in rules.values())}
    reason = outcome.alert_failure(result)
    result.update(status="failed" if reason else "ok", **({"reason": reason} if reason else {}))
    outcome.publish("newswatch-alerts", result, get_run_logger())
    return outcome.failed_state(result) if reason else result
