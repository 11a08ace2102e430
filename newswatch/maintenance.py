"""Index maintenance on any cluster, including the minimal distribution (no reindex module, no ILM):
rollover of the stories alias to a new dated index, and mapping migration (new index + client-side copy +
atomic alias swap)."""
from __future__ import annotations

from datetime import datetime, timezone

from elasticsearch import Elasticsearch, helpers

from .connectors.es import Indices, ensure_indices
from .settings import Settings


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y.%m.%d")


def _next_name(es: Elasticsearch, ix: Indices, tag: str = "") -> str:
    existing = es.indices.get(index=f"{ix.stories}-*", expand_wildcards="all")
    return f"{ix.stories}-{_stamp()}{tag}-{len(existing) + 1:06d}"


def backing_indices(es: Elasticsearch, ix: Indices) -> dict[str, bool]:
    """Indices behind the stories alias -> whether each is the write index."""
    aliases = es.indices.get_alias(name=ix.stories)
    return {name: bool(info["aliases"][ix.stories].get("is_write_index")) for name, info in aliases.items()}


def rollover(es: Elasticsearch, settings: Settings) -> dict:
    """Point the stories alias's writes at a new dated index; older indices keep their data and can be
    dropped (or snapshotted) without touching new data."""
    ix = ensure_indices(es, settings)
    resp = es.indices.rollover(alias=ix.stories, new_index=_next_name(es, ix))
    return {"old_index": resp["old_index"], "new_index": resp["new_index"], "rolled_over": resp["rolled_over"]}


def _upgrade(doc: dict) -> dict:
    """Bring a stored story to the current schema (fills fields added since it was written)."""
    from .extraction.lenders import readable
    from .schemas import deals
    from .schemas.story import Story

    finance = doc.get("finance") or []
    usd = [m["usd"] for m in finance if m.get("usd") is not None]
    doc.setdefault("finance_kinds", sorted({m["kind"] for m in finance}))
    doc.setdefault("lenders", sorted({m["lender"] for m in finance if m.get("lender")}))
    doc.setdefault("recipients", sorted({m["recipient"] for m in finance if m.get("recipient")}))
    doc.setdefault("finance_usd_max", max(usd) if usd else None)
    doc.setdefault("finance_usd_total", round(sum(usd), 2) if usd else None)
    if doc.get("cluster_id") is None:  # written before clusters: a cluster of its own, fingerprinted now
        from .extraction.neardup import fingerprint

        doc.update(cluster_id=doc.get("id"), cluster_sites=[doc["site"]] if doc.get("site") else [],
                   cluster_urls=[doc["url"]] if doc.get("url") else [], **fingerprint(doc.get("text") or ""))
    known = set(Story.model_fields)
    story = Story.model_validate({k: v for k, v in doc.items() if k in known})
    readable(story.finance)  # lender names and states, recipients' points (documents older than those fields)
    if "lender_countries" not in doc:
        story.lender_countries = sorted({m.lender_country for m in story.finance if m.lender_country})
    if "deal_usd_total" not in doc:
        story.deal_usd_total = deals.deal_usd_total(story.finance)
        story.deal_kinds = sorted({m.kind for m in deals.deals(story.finance)})
    return story.model_dump(mode="json")


def migrate(es: Elasticsearch, settings: Settings, *, delete_old: bool = False, chunk_size: int = 500) -> dict:
    """Create a new index with the current mapping, copy every story into it (scan + bulk on the client:
    the test distribution has no reindex module), then swap the alias atomically."""
    ix = ensure_indices(es, settings)  # installs the current template
    old = backing_indices(es, ix)
    new = _next_name(es, ix, "-m")
    es.indices.create(index=new)
    docs = ({"_index": new, "_id": h["_id"], "_source": _upgrade(h["_source"])}
            for h in helpers.scan(es, index=ix.stories, query={"query": {"match_all": {}}}, size=chunk_size))
    copied, errors = helpers.bulk(es, docs, chunk_size=chunk_size, raise_on_error=False)
    es.indices.refresh(index=new)
    source_count = es.count(index=list(old))["count"] if old else 0
    if errors or es.count(index=new)["count"] != source_count:
        es.indices.delete(index=new)
        raise RuntimeError(f"migration aborted, alias unchanged: {len(errors) if errors else 0} documents failed "
                           f"({(errors or [None])[0]}), {source_count} expected")
    actions = [{"remove": {"index": name, "alias": ix.stories}} for name in old]
    actions.append({"add": {"index": new, "alias": ix.stories, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)
    if delete_old and old:
        es.indices.delete(index=",".join(old))
    return {"new_index": new, "old_indices": sorted(old), "copied": copied, "deleted_old": delete_old}


def prune(es: Elasticsearch, settings: Settings, older_than: str, *, dry_run: bool = False) -> dict:
    """Delete the stories indices behind the alias whose newest story was ingested before ``older_than``
    ("365d", "52w", "12m"), never the write index; ``dry_run``: only say which. (On a full cluster an ILM policy
    does this: see the README.)"""
    from .search import parse_since

    ix = Indices(settings)
    cutoff = parse_since(older_than)
    if not es.indices.exists_alias(name=ix.stories):
        return {"cutoff": cutoff.isoformat(), "dry_run": dry_run, "old": [], "kept": [], "deleted": []}
    backing = backing_indices(es, ix)
    resp = es.search(index=list(backing), size=0, aggs={"by_index": {
        "terms": {"field": "_index", "size": max(10, len(backing))},
        "aggs": {"newest": {"max": {"field": "ingested_at"}}}}})
    newest = {b["key"]: b["newest"].get("value_as_string") for b in resp["aggregations"]["by_index"]["buckets"]}
    created = {name: int(info["settings"]["index"]["creation_date"])
               for name, info in es.indices.get_settings(index=list(backing), name="index.creation_date").items()}
    old, kept = [], []
    for name, is_write in sorted(backing.items()):
        last = newest.get(name)
        last_at = datetime.fromisoformat(last.replace("Z", "+00:00")) if last else \
            datetime.fromtimestamp(created[name] / 1000, timezone.utc)  # an empty index: its creation
        (kept if is_write or last_at >= cutoff else old).append({"index": name, "newest": last_at.isoformat(),
                                                                  "write_index": is_write})
    if old and not dry_run:
        es.indices.delete(index=",".join(i["index"] for i in old))
    return {"cutoff": cutoff.isoformat(), "dry_run": dry_run, "old": old, "kept": kept,
            "deleted": [] if dry_run else [i["index"] for i in old]}
