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


# what enrichment derives from a story's stored title and text (everything else a re-enrichment keeps)
ENRICHED_FIELDS = ("countries", "regions", "orgs", "people", "entities", "finance", "finance_kinds", "lenders",
                   "lender_countries", "recipients", "finance_usd_max", "finance_usd_total", "deal_usd_total",
                   "deal_kinds", "ner", "extraction_version")


def _page_of(doc: dict) -> dict:
    """The extracted page a stored story was built from, as the enrich stage takes it."""
    return {"id": doc["id"], "url": doc["url"], "canonical_url": doc["canonical_url"], "feeds": doc.get("feeds") or [],
            "fetched_at": doc["fetched_at"], "title": doc.get("title"), "author": doc.get("author"),
            "published_at": doc.get("published_at"), "source_name": doc.get("source_name"),
            "source_tags": doc.get("source_tags") or [],
            "article": {"title": doc.get("title"), "text": doc.get("text") or "", "date": doc.get("published_at"),
                        "sitename": doc.get("site"), "author": doc.get("author"), "lang": doc.get("lang"),
                        "captions": doc.get("captions")}}


def reenrich(es: Elasticsearch, settings: Settings, since: datetime, *, only_rules: bool = False,
             batch: int = 8, progress=None) -> dict:
    """Run enrichment again on the stories ingested since ``since``, from their stored title and text (nothing
    is fetched again): names from the recogniser now configured, USD values from the rates now cached, the
    current extraction rules. ``only_rules``: only the stories whose names came from the rules alone."""
    from .extraction.usd import use_rates_dir
    from .pipelines.enrich import build_story, recognise

    ix = ensure_indices(es, settings)
    use_rates_dir(settings.effective_rates_dir)
    filters: list[dict] = [{"range": {"ingested_at": {"gte": since.isoformat()}}}]
    if only_rules:
        filters.append({"term": {"ner": "rules"}})
    hits = helpers.scan(es, index=ix.stories, query={"query": {"bool": {"filter": filters}}}, size=200)
    nlp = settings.nlp_config
    seen = updated = failed = 0
    recognisers: dict[str, int] = {}
    errors: list[str] = []

    def flush(chunk: list[tuple[str, dict]]) -> None:
        nonlocal updated, failed
        pages = [_page_of(d) for _i, d in chunk]
        spans, error = recognise(pages, nlp)
        if error and error not in errors:
            errors.append(error)
        actions = []
        for (index, stored), page, found in zip(chunk, pages, spans):
            try:
                new = build_story(page, found, error)
            except Exception as exc:  # a story the current schema rejects stays as it is, and is counted
                failed += 1
                errors.append(f"{stored['id']}: {type(exc).__name__}: {exc}")
                continue
            merged = {**stored, **{k: new[k] for k in ENRICHED_FIELDS if k in new}}
            recognisers[merged["ner"]] = recognisers.get(merged["ner"], 0) + 1
            # the index that holds it (an older one after a rollover), not the alias: no second copy
            actions.append({"_index": index, "_id": stored["id"], "_source": merged})
        ok, bad = helpers.bulk(es, actions, raise_on_error=False, refresh=False)
        updated += ok
        failed += len(bad) if isinstance(bad, list) else 0
        if progress:
            progress(seen, updated)

    chunk: list[tuple[str, dict]] = []
    for h in hits:
        seen += 1
        chunk.append((h["_index"], h["_source"]))
        if len(chunk) >= batch:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    es.indices.refresh(index=ix.stories)
    return {"since": since.isoformat(), "stories": seen, "updated": updated, "failed": failed,
            "recognisers": recognisers, "errors": errors[:10]}
