"""`newswatch search`: the stories index without Kibana."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from elasticsearch import Elasticsearch

from .formatting import clean_link, outlet
from .schemas.deals import has_deal, is_deal

_SINCE = re.compile(r"^(\d+)\s*([hdwm])$")


def parse_since(value: str) -> datetime:
    """'12h', '7d', '4w', '3m' before now, or a date ('2025-01-31')."""
    m = _SINCE.match(value.strip())
    if not m:
        try:
            return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), timezone.utc)
        except ValueError:
            raise ValueError(f"--since wants e.g. 12h, 7d, 4w, 3m or a date (2025-01-31); got {value!r}") from None
    n, unit = int(m.group(1)), m.group(2)
    days = {"h": n / 24, "d": n, "w": 7 * n, "m": 30 * n}[unit]
    return datetime.now(timezone.utc) - timedelta(days=days)


def deal_clauses(*, kinds=None, lenders=None, recipients=None, min_usd=None) -> list[dict]:
    """Conditions on one deal (a nested finance document). A lender is matched by its id (``exim-china``), its
    state (``CN``) or its name as stored (``World Bank``)."""
    clauses: list[dict] = []
    if kinds:
        clauses.append({"terms": {"finance.kind": [k.lower() for k in kinds]}})
    if lenders:
        clauses.append({"bool": {"should": [{"terms": {"finance.lender": list(lenders)}},
                                            {"terms": {"finance.lender_country": [x.upper() for x in lenders]}},
                                            {"terms": {"finance.lender_name": list(lenders)}}],
                                 "minimum_should_match": 1}})
    if recipients:
        clauses.append({"terms": {"finance.recipient": [r.upper() for r in recipients]}})
    if min_usd is not None:
        clauses.append({"range": {"finance.usd": {"gte": min_usd}}})
    return clauses


def build_query(text: str | None, countries: list[str] | None = None, min_usd: float | None = None,
                since: str | None = None, *, kinds=None, lenders=None, recipients=None) -> dict:
    # title.ru / text.ru: Russian stemming, where the cluster has it (a field it lacks matches nothing)
    must = [{"query_string": {"query": text, "fields": ["title^3", "text", "title.ru^3", "text.ru"],
                              "default_operator": "AND"}}] \
        if text and text.strip() not in ("", "*") else [{"match_all": {}}]
    filters: list[dict] = []
    if countries:
        filters.append({"terms": {"countries": [c.upper() for c in countries]}})
    deal = deal_clauses(kinds=kinds, lenders=lenders, recipients=recipients, min_usd=min_usd)
    if deal:  # one deal must meet all of them (not a loan here and $1 billion of trade there)
        filters.append(has_deal(*deal))
    if since:
        filters.append({"range": {"published_at": {"gte": parse_since(since).isoformat()}}})
    return {"bool": {"must": must, "filter": filters}}


def _meets(m: dict, kinds, lenders, recipients, min_usd) -> bool:
    """The Python side of :func:`deal_clauses` (which deal of a hit to show)."""
    if kinds and m.get("kind") not in {k.lower() for k in kinds}:
        return False
    if lenders and not ({m.get("lender"), m.get("lender_name"), m.get("lender_country")}
                        & (set(lenders) | {x.upper() for x in lenders})):
        return False
    if recipients and m.get("recipient") not in {r.upper() for r in recipients}:
        return False
    return min_usd is None or (m.get("usd") is not None and m["usd"] >= min_usd)


def _deal(m: dict) -> dict:
    return {k: m.get(k) for k in ("text", "amount", "amount_max", "currency", "usd", "usd_note", "approx", "kind",
                                  "lender", "lender_name", "lender_country", "recipient")}


def search(es: Elasticsearch, index: str, text: str | None, *, countries=None, min_usd=None, since=None,
           kinds=None, lenders=None, recipients=None, size: int = 20) -> list[dict]:
    query = build_query(text, countries, min_usd, since, kinds=kinds, lenders=lenders, recipients=recipients)
    resp = es.search(index=index, query=query, size=size,
                     sort=[{"_score": "desc"}, {"published_at": {"order": "desc", "missing": "_last"}}],
                     source_excludes=["text", "entities", "minhash", "lsh_bands"])
    out = []
    clusters: set[str] = set()
    for h in resp["hits"]["hits"]:
        s = h["_source"]
        if s.get("cluster_id") in clusters:
            continue  # a syndicated copy of a story already listed (which names every outlet)
        clusters.add(s.get("cluster_id") or h["_id"])
        deals = [m for m in s.get("finance") or [] if is_deal(m)]
        matching = [m for m in deals if _meets(m, kinds, lenders, recipients, min_usd)]
        top = max(matching, key=lambda m: (m.get("usd") is not None, m.get("usd") or 0), default=None)
        out.append({"id": h["_id"], "score": h["_score"], "title": s.get("title"), "published_at": s.get("published_at"),
                    "outlet": outlet(s), "site": s.get("site"), "url": clean_link(s.get("url")),
                    "countries": s.get("countries") or [], "deals": len(deals), "deal_usd_total": s.get("deal_usd_total"),
                    "largest_deal": top and _deal(top),
                    "outlets": s.get("cluster_sites") or ([s["site"]] if s.get("site") else [])})
    return out
