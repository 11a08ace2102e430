"""`newswatch search`: the stories index without Kibana."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch

_SINCE = re.compile(r"^(\d+)\s*([hdwm])$")


def parse_since(value: str) -> datetime:
    m = _SINCE.match(value.strip())
    if not m:
        raise ValueError(f"--since wants e.g. 12h, 7d, 4w, 3m; got {value!r}")
    n, unit = int(m.group(1)), m.group(2)
    days = {"h": n / 24, "d": n, "w": 7 * n, "m": 30 * n}[unit]
    return datetime.now(timezone.utc) - timedelta(days=days)


def build_query(text: str | None, countries: list[str] | None = None, min_usd: float | None = None,
                since: str | None = None) -> dict:
    must = [{"query_string": {"query": text, "fields": ["title^3", "text"], "default_operator": "AND"}}] \
        if text and text.strip() not in ("", "*") else [{"match_all": {}}]
    filters: list[dict] = []
    if countries:
        filters.append({"terms": {"countries": [c.upper() for c in countries]}})
    if min_usd is not None:
        filters.append({"range": {"finance_usd_max": {"gte": min_usd}}})
    if since:
        filters.append({"range": {"published_at": {"gte": parse_since(since).isoformat()}}})
    return {"bool": {"must": must, "filter": filters}}


def search(es: Elasticsearch, index: str, text: str | None, *, countries=None, min_usd=None, since=None,
           size: int = 20) -> list[dict]:
    resp = es.search(index=index, query=build_query(text, countries, min_usd, since), size=size,
                     sort=[{"_score": "desc"}, {"published_at": {"order": "desc", "missing": "_last"}}],
                     source_excludes=["text", "entities", "minhash", "lsh_bands"])
    out = []
    clusters: set[str] = set()
    for h in resp["hits"]["hits"]:
        s = h["_source"]
        if s.get("cluster_id") in clusters:
            continue  # a syndicated copy of a story already listed (which names every outlet)
        clusters.add(s.get("cluster_id") or h["_id"])
        top = max(s.get("finance") or [], key=lambda m: m.get("usd") or 0, default=None)
        out.append({"id": h["_id"], "score": h["_score"], "title": s.get("title"), "published_at": s.get("published_at"),
                    "site": s.get("site"), "url": s.get("url"), "countries": s.get("countries") or [],
                    "outlets": s.get("cluster_sites") or ([s["site"]] if s.get("site") else []),
                    "largest_amount": top and {k: top.get(k) for k in ("text", "amount", "currency", "usd", "kind")}})
    return out
