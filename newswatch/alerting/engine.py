"""Rule evaluation and the alert ledger that makes delivery exactly-once.

Ledger protocol (index ``<prefix>-alerts``, document id = hash(rule, story)):

1. **record** — every (rule, story) match is written with ``op_type=create`` as ``pending``. A second match
   of the same story (re-ingest, restart, another run) conflicts and is ignored: a story is recorded once.
2. **claim** — before mailing, the run moves each ``pending`` record to ``sending`` with an optimistic
   concurrency check (``if_seq_no``/``if_primary_term``); a record another run claimed first is skipped, so
   two concurrent alert runs never put the same story in two mails.
3. **deliver** — one digest per rule with every claimed story. On success the records become ``sent``; on an
   SMTP error they go back to ``pending`` (attempts + 1, last error) and the next run sends them.

The one window left: the process dies after the SMTP server accepted the mail but before the records were
marked ``sent``. Those records stay ``sending``; after ``lease`` seconds a later run re-sends them (at least
once, never lost). The window is the time of one bulk update.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from elasticsearch import ConflictError, Elasticsearch, helpers

from ..connectors.es import Indices, create_index
from ..schemas.records import now
from .rules import Rule

ALERTS_MAPPINGS = {"dynamic": "strict", "properties": {
    "rule": {"type": "keyword"}, "story_id": {"type": "keyword"}, "status": {"type": "keyword"},
    "created_at": {"type": "date"}, "claimed_at": {"type": "date"}, "claimed_by": {"type": "keyword"},
    "sent_at": {"type": "date"}, "attempts": {"type": "integer"}, "last_error": {"type": "text"},
    "message_id": {"type": "keyword"}}}
RULES_MAPPINGS = {"dynamic": "strict", "properties": {
    "name": {"type": "keyword"}, "recipients": {"type": "keyword"}, "description": {"type": "text"},
    "enabled": {"type": "boolean"}, "query": {"type": "object", "enabled": False},
    "definition": {"type": "object", "enabled": False}, "updated_at": {"type": "date"}}}


def alerts_index(ix: Indices) -> str:
    return f"{ix.prefix}-alerts"


def rules_index(ix: Indices) -> str:
    return f"{ix.prefix}-rules"


def ensure_alert_indices(es: Elasticsearch, ix: Indices) -> None:
    create_index(es, alerts_index(ix), ALERTS_MAPPINGS)
    create_index(es, rules_index(ix), RULES_MAPPINGS)


def store_rules(es: Elasticsearch, ix: Indices, rules: list[Rule]) -> None:
    """Keep the rules, compiled to queries, in ES (what Kibana and `alerts test` show)."""
    actions = [{"_index": rules_index(ix), "_id": r.name, "_source": {
        "name": r.name, "recipients": r.recipients, "description": r.description, "enabled": r.enabled,
        "query": r.to_query(), "definition": r.model_dump(exclude_none=True), "updated_at": now().isoformat()}}
        for r in rules]
    if actions:
        helpers.bulk(es, actions, refresh=True)


def validate_on_server(es: Elasticsearch, ix: Indices, rules: list[Rule]) -> None:
    """Ask the server whether each rule's query is valid (catches bad raw queries at load time)."""
    from .rules import RuleError

    for r in rules:
        resp = es.indices.validate_query(index=ix.stories, query=r.to_query(), explain=True)
        if not resp.get("valid"):
            why = "; ".join(e.get("error", "") for e in resp.get("explanations", []) if e.get("error"))
            raise RuleError(f"rule {r.name!r} is invalid: Elasticsearch rejects its query: {why or resp}")


def match(es: Elasticsearch, ix: Indices, rule: Rule, story_ids: list[str] | None = None,
          since: datetime | None = None, size: int = 500) -> list[dict]:
    """Stories matching ``rule``, restricted to ``story_ids`` (the ones just indexed) and/or ``since``."""
    filters: list[dict] = [rule.to_query()]
    if story_ids is not None:
        if not story_ids:
            return []
        filters.append({"ids": {"values": story_ids}})
    if since is not None:
        filters.append({"range": {"ingested_at": {"gte": since.isoformat()}}})
    resp = es.search(index=ix.stories, query={"bool": {"filter": filters}}, size=size,
                     sort=[{"published_at": {"order": "desc", "missing": "_last"}}])
    return [{**h["_source"], "_id": h["_id"]} for h in resp["hits"]["hits"]]


def ledger_id(rule: str, story_id: str) -> str:
    return hashlib.sha256(f"{rule}\x00{story_id}".encode()).hexdigest()[:40]


def record(es: Elasticsearch, ix: Indices, rule: Rule, story_ids: list[str],
           clusters: dict[str, str] | None = None) -> int:
    """Write a pending ledger record per new (rule, story); returns how many were new. With ``clusters`` (story
    id -> cluster id), the record is per (rule, cluster): syndicated copies of a story already recorded for the
    rule, in this run or an earlier one, are not recorded again."""
    new = 0
    for sid in story_ids:
        try:
            es.index(index=alerts_index(ix), id=ledger_id(rule.name, (clusters or {}).get(sid) or sid), op_type="create",
                     document={"rule": rule.name, "story_id": sid, "status": "pending",
                               "created_at": now().isoformat(), "attempts": 0})
            new += 1
        except ConflictError:
            pass  # already recorded (pending or sent): never twice
    es.indices.refresh(index=alerts_index(ix))
    return new


def claim(es: Elasticsearch, ix: Indices, rule: Rule, run_id: str, lease: float = 900.0) -> list[dict]:
    """Move this rule's pending (and stale sending) records to 'sending' for this run; returns them."""
    stale = (now() - timedelta(seconds=lease)).isoformat()
    resp = es.search(index=alerts_index(ix), size=1000, seq_no_primary_term=True, query={"bool": {
        "filter": [{"term": {"rule": rule.name}}],
        "should": [{"term": {"status": "pending"}},
                   {"bool": {"filter": [{"term": {"status": "sending"}}, {"range": {"claimed_at": {"lt": stale}}}]}}],
        "minimum_should_match": 1}})
    claimed = []
    for hit in resp["hits"]["hits"]:
        doc = {**hit["_source"], "status": "sending", "claimed_at": now().isoformat(), "claimed_by": run_id}
        try:
            es.index(index=alerts_index(ix), id=hit["_id"], document=doc, if_seq_no=hit["_seq_no"],
                     if_primary_term=hit["_primary_term"])
        except ConflictError:
            continue  # another run got it
        claimed.append({**doc, "_id": hit["_id"]})
    return claimed


def finish(es: Elasticsearch, ix: Indices, claimed: list[dict], *, sent: bool, message_id: str | None = None,
           error: str | None = None) -> None:
    actions = []
    for c in claimed:
        src = {k: v for k, v in c.items() if k != "_id"}
        if sent:
            src.update(status="sent", sent_at=now().isoformat(), message_id=message_id)
        else:
            src.update(status="pending", attempts=int(src.get("attempts") or 0) + 1, last_error=(error or "")[:2000])
        actions.append({"_index": alerts_index(ix), "_id": c["_id"], "_source": src})
    if actions:
        helpers.bulk(es, actions, refresh=True)


def pending_count(es: Elasticsearch, ix: Indices, rule: str | None = None) -> int:
    q: dict = {"bool": {"filter": [{"terms": {"status": ["pending", "sending"]}}]}}
    if rule:
        q["bool"]["filter"].append({"term": {"rule": rule}})
    return es.count(index=alerts_index(ix), query=q)["count"]
