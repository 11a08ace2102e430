"""Syndicated copies: the same story carried by several outlets becomes one cluster.

Every story is indexed with the MinHash signature of its text and the signature's LSH band keys
(:mod:`newswatch.extraction.neardup`), alone in a cluster of its own. Once a run has indexed its stories, each
new one asks the index for recent stories sharing band keys (one query, scored by how many they share, so the
cost depends on the number of likely copies, not on the size of the index), keeps the candidates whose
estimated Jaccard similarity reaches ``settings.cluster_threshold``, and joins their cluster. A cluster's id is
the id of its first story (its lead) and stays the same as copies arrive; when a story links two clusters the
older one absorbs the other. Every member then carries the cluster's size, outlets and URLs, and exactly one
member has ``cluster_lead`` set, so counts and deal totals can take each cluster once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch, helpers

from .extraction import neardup
from .settings import Settings

log = logging.getLogger(__name__)

FIELDS = ["minhash", "cluster_id", "cluster_size", "cluster_lead", "cluster_sites", "cluster_urls", "site", "url",
          "published_at", "ingested_at"]  # of a candidate or a member (its band keys are not needed: 64 strings)
CANDIDATES = 10  # per story: the recent stories sharing the most band keys with it
BATCH = 100  # stories per multi-search request
MAX_MEMBERS = 5000  # members of the touched clusters read back in one request
MAX_URLS = 100  # URLs kept on each member


class _Groups:
    """Union-find over story ids."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def components(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return out


def _by_ids(es: Elasticsearch, index: str, ids: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        resp = es.search(index=index, query={"bool": {"filter": {"ids": {"values": chunk}}}},
                         source=[*FIELDS, "lsh_bands"], size=len(chunk), track_total_hits=False)
        found.update({h["_id"]: {**h["_source"], "_index": h["_index"]} for h in resp["hits"]["hits"]})
    return found


def _candidate_query(sid: str, bands: list[str], since: str) -> dict:
    # each shared band key scores 1: the likeliest copies come first
    return {"bool": {"should": [{"constant_score": {"filter": {"term": {"lsh_bands": k}}}} for k in bands],
                     "minimum_should_match": 1, "filter": [{"range": {"ingested_at": {"gte": since}}}],
                     "must_not": [{"ids": {"values": [sid]}}]}}


def find_copies(es: Elasticsearch, index: str, stories: dict[str, dict], threshold: float,
                since: str) -> tuple[list[tuple[str, str, float]], dict[str, dict]]:
    """Pairs (story, copy, similarity) for ``stories`` (id -> stored fields) among the stories ingested since
    ``since``; and the stored fields of every copy found."""
    pairs: list[tuple[str, str, float]] = []
    seen: dict[str, dict] = {}
    todo = [(sid, doc) for sid, doc in stories.items() if doc.get("lsh_bands") and neardup.decode(doc.get("minhash"))]
    for i in range(0, len(todo), BATCH):
        batch = todo[i:i + BATCH]
        searches: list[dict] = []
        for sid, doc in batch:
            searches += [{"index": index}, {"query": _candidate_query(sid, doc["lsh_bands"], since),
                                             "size": CANDIDATES, "_source": FIELDS, "track_total_hits": False}]
        resp = es.msearch(searches=searches)
        for (sid, doc), answer in zip(batch, resp["responses"]):
            if "error" in answer:
                raise RuntimeError(f"candidate search failed: {answer['error']}")
            mine = neardup.decode(doc["minhash"])
            for hit in answer["hits"]["hits"]:
                other = neardup.decode(hit["_source"].get("minhash"))
                if other is not None and neardup.is_copy(mine, other, threshold):
                    pairs.append((sid, hit["_id"], neardup.shared(mine, other)[0]))
                    seen[hit["_id"]] = {**hit["_source"], "_index": hit["_index"]}
    return pairs, seen


def _when(doc: dict) -> str:
    return doc.get("published_at") or doc.get("ingested_at") or ""


def plan_clusters(new: dict[str, dict], others: dict[str, dict],
                  pairs: list[tuple[str, str, float]]) -> dict[str, dict]:
    """The fields to write, per story id, so that each group of copies is one cluster (pure: tests use it).

    ``new``: the run's stories; ``others``: earlier stories, including every member of the clusters the pairs
    touch; ``pairs``: (story, copy, similarity)."""
    docs = {**others, **new}
    groups = _Groups()
    for a, b, _ in pairs:
        groups.union(a, b)
    for sid, doc in others.items():  # an earlier story brings its whole cluster
        groups.union("cluster:" + (doc.get("cluster_id") or sid), sid)
    changes: dict[str, dict] = {}
    for members in groups.components().values():
        members = [m for m in members if m in docs]
        if len(members) < 2:
            continue
        earlier = [m for m in members if m not in new]
        # an existing cluster keeps its id (the one whose lead came first); a new one is led by its earliest story
        if earlier:
            first = min(earlier, key=lambda m: (docs[m].get("ingested_at") or "", m))
            cid = docs[first].get("cluster_id") or first
        else:
            cid = min(members, key=lambda m: (_when(docs[m]), m))
        if cid not in members:
            cid = min(members, key=lambda m: (_when(docs[m]), m))
        ordered = sorted(members, key=lambda m: (_when(docs[m]), m))
        fields = {"cluster_id": cid, "cluster_size": len(members),
                  "cluster_sites": sorted({docs[m]["site"] for m in members if docs[m].get("site")}),
                  "cluster_urls": [docs[m]["url"] for m in ordered if docs[m].get("url")][:MAX_URLS]}
        for m in members:
            want = {**fields, "cluster_lead": m == cid}
            if any(docs[m].get(k) != v for k, v in want.items()):
                changes[m] = want
    return changes


def cluster_stories(es: Elasticsearch, settings: Settings, story_ids: list[str]) -> dict:
    """Put the run's new stories (``story_ids``, indexed and searchable) into clusters with their copies among
    the stories of the last ``settings.cluster_window_days``. Returns figures for the run summary."""
    index = settings.index("stories")
    stats = {"checked": 0, "in_clusters": 0, "clusters": 0, "updated": 0}
    if not story_ids:
        return stats
    new = _by_ids(es, index, sorted(set(story_ids)))
    stats["checked"] = len(new)
    since = (datetime.now(timezone.utc) - timedelta(days=settings.cluster_window_days)).isoformat()
    pairs, copies = find_copies(es, index, new, settings.cluster_threshold, since)
    others = {k: v for k, v in copies.items() if k not in new}
    touched = {d.get("cluster_id") or sid for sid, d in others.items()}
    if touched:  # every member of the clusters the copies belong to
        resp = es.search(index=index, query={"bool": {"filter": {"terms": {"cluster_id": sorted(touched)}}}},
                         source=FIELDS, size=MAX_MEMBERS, track_total_hits=False)
        for hit in resp["hits"]["hits"]:
            if hit["_id"] not in new:
                others.setdefault(hit["_id"], {**hit["_source"], "_index": hit["_index"]})
    changes = plan_clusters(new, others, pairs)
    if changes:
        docs = {**others, **new}
        # an update names the index holding the story (after a rollover, older stories live in older indices)
        actions = ({"_op_type": "update", "_index": docs[sid]["_index"], "_id": sid, "doc": doc}
                   for sid, doc in changes.items())
        ok, errors = helpers.bulk(es, actions, raise_on_error=False, refresh=True)
        if errors:
            log.error("cluster fields not written for %d stories: %s", len(errors), errors[:3])
        stats["updated"] = ok
    final = {sid: {**new[sid], **changes.get(sid, {})} for sid in new}
    stats["in_clusters"] = sum(1 for d in final.values() if (d.get("cluster_size") or 1) > 1)
    stats["clusters"] = len({d["cluster_id"] for d in final.values() if (d.get("cluster_size") or 1) > 1})
    return stats

