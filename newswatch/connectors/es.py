"""Elasticsearch access: client, index setup, bulk writes, feed state, run summaries."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Iterable

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, OrjsonSerializer, helpers
from elasticsearch import ConnectionError as ESConnectionError

from ..schemas.mapping import ERRORS_MAPPINGS, FEEDS_MAPPINGS, RUNS_MAPPINGS, stories_template
from ..schemas.records import now
from ..settings import Settings
from .http import strip_credentials, without_credentials

# the client logs each retried request as a warning with a traceback; newswatch says once what failed
logging.getLogger("elastic_transport").setLevel(logging.ERROR)


def make_client(settings: Settings) -> Elasticsearch:
    # orjson: bulk bodies of 200 full stories are serialised several times faster than with the json module
    kwargs: dict = dict(request_timeout=settings.es_timeout, retry_on_timeout=True, max_retries=3,
                        serializer=OrjsonSerializer())
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    if not settings.es_verify_certs:
        kwargs["verify_certs"] = False
    return Elasticsearch(settings.effective_es_url, **kwargs)


def check_reachable(es: Elasticsearch) -> dict:
    """Cluster health, or a clear ConnectionError naming the URL."""
    try:
        return dict(es.cluster.health(wait_for_status="yellow", timeout="30s"))
    except ESConnectionError as exc:
        raise ConnectionError(f"Elasticsearch is unreachable: {exc}") from exc


class Indices:
    """Names of newswatch's indices for one prefix."""

    def __init__(self, settings: Settings):
        p = settings.index_prefix
        self.prefix = p
        self.stories = f"{p}-stories"  # alias
        self.errors = f"{p}-errors"
        self.feeds = f"{p}-feeds"
        self.runs = f"{p}-runs"
        self.locks = f"{p}-locks"


def ensure_indices(es: Elasticsearch, settings: Settings) -> Indices:
    """Create (idempotently) the stories template + first index + alias, and the side indices (the locks index
    too: created by the first lock instead, it would cost that run's lock a third of a second)."""
    ix = Indices(settings)
    template = stories_template(ix.prefix, settings.es_refresh_interval, language_analyzers(es))
    es.indices.put_index_template(name=f"{ix.prefix}-stories", **template)
    if es.indices.exists_alias(name=ix.stories):
        # fields the schema has gained since the index was created (the mapping is strict): added in place; a
        # changed field is left to `newswatch es migrate`
        for name, current in es.indices.get_mapping(index=ix.stories).body.items():
            gained = _gained(current["mappings"].get("properties", {}), template["template"]["mappings"]["properties"])
            if gained:
                es.indices.put_mapping(index=name, properties=gained)
    else:
        first = f"{ix.stories}-000001"
        if not es.indices.exists(index=first):
            try:
                es.indices.create(index=first, aliases={ix.stories: {"is_write_index": True}})
            except BadRequestError as exc:  # another process created it first
                if "resource_already_exists_exception" not in str(exc):
                    raise
    side = ((ix.errors, ERRORS_MAPPINGS), (ix.feeds, FEEDS_MAPPINGS), (ix.runs, RUNS_MAPPINGS),
            (ix.locks, LOCKS_MAPPINGS))
    if not es.indices.exists(index=",".join(name for name, _ in side)):  # one request when all exist (every run)
        for name, mappings in side:
            create_index(es, name, mappings)
    return ix


def _gained(have: dict, want: dict) -> dict:
    """The properties of ``want`` (a mapping) that ``have`` lacks, nested objects included."""
    out = {}
    for key, spec in want.items():
        if key not in have:
            out[key] = spec
        elif "properties" in spec and "properties" in have[key]:
            inner = _gained(have[key]["properties"], spec["properties"])
            if inner:
                out[key] = {k: v for k, v in spec.items() if k != "properties"} | {"properties": inner}
    return out


def language_analyzers(es: Elasticsearch) -> frozenset[str]:
    """The language analyzers of :data:`~newswatch.schemas.story.LANGUAGE_SUBFIELDS` the cluster has (a full
    distribution has them all; the minimal one, without the analysis-common module, none)."""
    from ..schemas.story import LANGUAGE_SUBFIELDS

    found = set()
    for analyzer in LANGUAGE_SUBFIELDS.values():
        try:
            es.indices.analyze(analyzer=analyzer, text="кредиты")
            found.add(analyzer)
        except Exception:  # "failed to find global analyzer": not installed
            pass
    return frozenset(found)


def create_index(es: Elasticsearch, name: str, mappings: dict) -> None:
    """Create a single-shard index unless it exists (another process may create it at the same moment)."""
    if es.indices.exists(index=name):
        return
    try:
        es.indices.create(index=name, mappings=mappings, settings={"number_of_shards": 1, "number_of_replicas": 0})
    except BadRequestError as exc:
        if "resource_already_exists_exception" not in str(exc):
            raise


def existing_ids(es: Elasticsearch, index: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` are already stored (works on an alias over several indices)."""
    found: set[str] = set()
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        # a filter in index order, no scores or total: a third less work for the node than a scored search
        resp = es.search(index=index, query={"bool": {"filter": {"ids": {"values": chunk}}}}, source=False,
                         size=len(chunk), sort=["_doc"], track_total_hits=False)
        found.update(hit["_id"] for hit in resp["hits"]["hits"])
    return found


def bulk_write(es: Elasticsearch, index: str, docs: Iterable[dict], *, chunk_size: int = 200,
               op_type: str = "index") -> tuple[list[str], list[dict]]:
    """Write docs (each with ``_id``); returns (ids written, failures with reasons). Never drops silently."""
    actions = ({"_op_type": op_type, "_index": index, "_id": d["_id"],
                "_source": {k: v for k, v in d.items() if k != "_id"}} for d in docs)
    ok_ids: list[str] = []
    failures: list[dict] = []
    for ok, item in helpers.streaming_bulk(es, actions, chunk_size=chunk_size, raise_on_error=False,
                                           raise_on_exception=True, max_retries=3, initial_backoff=1):
        info = next(iter(item.values()))
        if ok:
            ok_ids.append(info["_id"])
        else:
            err = info.get("error")
            reason = err.get("reason") if isinstance(err, dict) else str(err)
            failures.append({"_id": info.get("_id"), "status": info.get("status"),
                             "error_type": err.get("type") if isinstance(err, dict) else "bulk_error",
                             "reason": reason})
    return ok_ids, failures


def _feed_doc_id(url: str) -> str:
    """The id of a feed's state: from its URL without credentials (a feed without any keeps the id it had)."""
    return _whole_url_id(strip_credentials(url))


def _whole_url_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def get_feed_states(es: Elasticsearch, ix: Indices, urls: list[str]) -> dict[str, dict]:
    """The stored state of each of ``urls`` (as the feeds file lists them) that has one, by that URL."""
    if not urls:
        return {}
    with_credentials = [u for u in urls if strip_credentials(u) != u]
    # a state once stored under the id of the whole URL, credentials included, is read there too and moved
    ids = [_feed_doc_id(u) for u in urls] + [_whole_url_id(u) for u in with_credentials]
    docs = es.mget(index=ix.feeds, ids=ids)["docs"]
    states = {u: d["_source"] for u, d in zip(urls, docs) if d.get("found")}
    old = [(u, d) for u, d in zip(with_credentials, docs[len(urls):]) if d.get("found")]
    if old:
        moved = {u: {**d["_source"], "url": strip_credentials(u),
                     "last_error": without_credentials(d["_source"]["last_error"])
                     if d["_source"].get("last_error") else None} for u, d in old if u not in states}
        put_feed_states(es, ix, list(moved.values()))
        for _u, d in old:
            es.options(ignore_status=404).delete(index=ix.feeds, id=d["_id"])
        states.update(moved)
    return states


def put_feed_states(es: Elasticsearch, ix: Indices, states: list[dict]) -> None:
    """Store feed states (``url``: the feed's URL without credentials, as :func:`next_feed_state` gives it)."""
    if states:
        # no refresh: the next run reads them with mget, which is real-time
        docs = [{**s, "_id": _feed_doc_id(s["url"]), "url": strip_credentials(s["url"])} for s in states]
        _, failures = bulk_write(es, ix.feeds, docs)
        if any(f["error_type"] == "strict_dynamic_mapping_exception" for f in failures):
            # a feeds index made before the feed-health fields: add them (additive) and write again
            es.indices.put_mapping(index=ix.feeds, properties=FEEDS_MAPPINGS["properties"])
            _, failures = bulk_write(es, ix.feeds, docs)
        if failures:
            raise RuntimeError(f"{len(failures)} feed states not stored: {failures[:2]}")


def all_feed_states(es: Elasticsearch, ix: Indices) -> list[dict]:
    """Every stored feed state (for `newswatch feeds list`)."""
    return [h["_source"] for h in helpers.scan(es, index=ix.feeds, query={"query": {"match_all": {}}})]



def write_errors(es: Elasticsearch, ix: Indices, records: list[dict]) -> None:
    if records:
        bulk_write(es, ix.errors, records)
        es.indices.refresh(index=ix.errors)


def write_run(es: Elasticsearch, ix: Indices, summary: dict) -> None:
    """Store a run summary. No forced refresh (10-15 ms of every run): the runs index refreshes by itself
    within a second, and a summary is read back by id (real-time) or by someone searching later."""
    es.index(index=ix.runs, id=summary["run_id"], document=summary)


def add_feeds_to_known(es: Elasticsearch, ix: Indices, feeds_by_id: dict[str, list[str]]) -> int:
    """Record that already-stored stories were also listed by other feeds (no scripting needed)."""
    if not feeds_by_id:
        return 0
    resp = es.search(index=ix.stories, query={"ids": {"values": list(feeds_by_id)}}, source=["feeds"],
                     size=len(feeds_by_id))
    updates = []
    for hit in resp["hits"]["hits"]:
        have = hit["_source"].get("feeds") or []
        merged = sorted(set(have) | set(feeds_by_id.get(hit["_id"], [])))
        if merged != sorted(have):
            updates.append({"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"],
                            "doc": {"feeds": merged}})
    if updates:
        helpers.bulk(es, updates, refresh=True)
    return len(updates)


# ---------------------------------------------------------------- locks

LOCKS_MAPPINGS = {"dynamic": False, "properties": {"owner": {"type": "keyword"}, "host": {"type": "keyword"},
                                                   "pid": {"type": "integer"}, "expires_at": {"type": "date"}}}


def _lock_index(ix: Indices, es: Elasticsearch) -> str:
    create_index(es, ix.locks, LOCKS_MAPPINGS)  # made by ensure_indices; here for a caller that did not run it
    return ix.locks


# owners holding a lock in this process right now -> (index, lock name, the lock document's sequence number and
# primary term as this owner wrote it)
_ACTIVE_LOCK_OWNERS: dict[str, tuple[str, str, int, int]] = {}


def _holder_is_gone(doc: dict) -> bool:
    import os
    import socket

    try:
        expired = datetime.fromisoformat(doc["expires_at"]) < now()
    except (KeyError, ValueError):
        expired = True
    if expired:
        return True
    if doc.get("host") == socket.gethostname() and doc.get("pid"):
        if int(doc["pid"]) == os.getpid():
            return doc.get("owner") not in _ACTIVE_LOCK_OWNERS  # an earlier run of this process
        try:
            os.kill(int(doc["pid"]), 0)
        except ProcessLookupError:
            return True  # the process that held it died (e.g. SIGKILL)
        except PermissionError:
            return False
    return False


def acquire_lock(es: Elasticsearch, ix: Indices, name: str, owner: str, ttl_seconds: float = 3600) -> dict | None:
    """Take the named lock; None if held by a live owner. A dead or expired holder's lock is taken over.

    Every lock operation works on the one document by id (create, real-time get, writes conditional on its
    sequence number), so none needs the index refreshed."""
    import os
    import socket

    from elasticsearch import ConflictError

    index = _lock_index(ix, es)
    doc = {"owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
           "acquired_at": now().isoformat(), "expires_at": (now() + timedelta(seconds=ttl_seconds)).isoformat()}
    try:
        written = es.index(index=index, id=name, document=doc, op_type="create")
        _ACTIVE_LOCK_OWNERS[owner] = (index, name, written["_seq_no"], written["_primary_term"])
        return doc
    except ConflictError:
        pass
    try:
        current = es.get(index=index, id=name)
    except NotFoundError:
        return acquire_lock(es, ix, name, owner, ttl_seconds)
    if not _holder_is_gone(current["_source"]):
        return None
    try:
        written = es.index(index=index, id=name, document=doc, if_seq_no=current["_seq_no"],
                           if_primary_term=current["_primary_term"])
    except ConflictError:
        return None  # someone else took it over first
    _ACTIVE_LOCK_OWNERS[owner] = (index, name, written["_seq_no"], written["_primary_term"])
    return {**doc, "took_over_from": current["_source"].get("owner")}


def lock_holder(es: Elasticsearch, ix: Indices, name: str) -> dict | None:
    try:
        return es.get(index=_lock_index(ix, es), id=name)["_source"]
    except NotFoundError:
        return None


def release_lock(es: Elasticsearch, ix: Indices, name: str, owner: str) -> bool:
    from elasticsearch import ConflictError

    held = _ACTIVE_LOCK_OWNERS.pop(owner, None)
    if held is not None and held[:2] == (ix.locks, name):
        # deleted only if it is still the version this owner wrote (one request: no read of it first)
        seq_no, primary_term = held[2:]
    else:  # taken in another process
        try:
            current = es.get(index=_lock_index(ix, es), id=name)
        except NotFoundError:
            return False
        if current["_source"].get("owner") != owner:
            return False
        seq_no, primary_term = current["_seq_no"], current["_primary_term"]
    try:
        es.delete(index=ix.locks, id=name, if_seq_no=seq_no, if_primary_term=primary_term)
    except (ConflictError, NotFoundError):
        return False
    return True
