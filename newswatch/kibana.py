"""Kibana saved objects generated from the schema: a data view, saved searches and a dashboard.

``newswatch kibana export`` writes ``deploy/kibana/newswatch.ndjson`` from this module (tests check the file
equals what this module generates, so the two never drift); ``newswatch kibana import`` posts it to Kibana's
saved-objects import API. Saved searches use the Lucene syntax, so their query strings also run as-is in
Elasticsearch's ``query_string`` (the tests do exactly that).
"""
from __future__ import annotations

import json
from pathlib import Path

from .alerting.rules import load_rules

DATA_VIEW_ID = "newswatch-stories"
NDJSON_PATH = Path(__file__).resolve().parent.parent / "deploy" / "kibana" / "newswatch.ndjson"
CHINA_LENDERS = ["CN", "cdb", "exim-china", "silk-road-fund", "pboc", "ccp"]


def _lucene_list(values) -> str:
    return "(" + " OR ".join(f'"{v}"' if " " in v else v for v in values) + ")"


def central_asia_financing_query() -> str:
    """The bundled alert rule `central-asia-financing`, as a Lucene query string."""
    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    either = [f"finance_kinds:{_lucene_list(rule.finance_kinds)}"]
    if rule.keywords:
        words = _lucene_list(rule.keywords)
        either += [f"title:{words}", f"text:{words}"]
    return f"countries:{_lucene_list(rule.countries)} AND ({' OR '.join(either)})"


def saved_searches(prefix: str = "newswatch") -> list[dict]:
    """(id, title, lucene query, columns, sort) of the saved searches."""
    return [
        {"id": "nw-search-central-asia-financing", "title": "Central Asia financing",
         "query": central_asia_financing_query(),
         "columns": ["title", "site", "countries", "finance_kinds", "recipients", "finance_usd_max"]},
        {"id": "nw-search-china-lending", "title": "China lending",
         "query": f"lenders:{_lucene_list(CHINA_LENDERS)}",
         "columns": ["title", "lenders", "recipients", "finance_usd_max"]},
        {"id": "nw-search-large-deals", "title": "Large deals > $100M", "query": "finance_usd_max:>=100000000",
         "columns": ["title", "countries", "finance_kinds", "finance_usd_max"]},
        {"id": "nw-search-latest", "title": "Latest stories", "query": "*",
         "columns": ["title", "site", "countries", "regions"]},
    ]


def _search_object(s: dict) -> dict:
    source = {"query": {"query": s["query"], "language": "lucene"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {"type": "search", "id": s["id"], "attributes": {
        "title": s["title"], "description": "", "columns": s["columns"], "sort": [["published_at", "desc"]],
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                        "id": DATA_VIEW_ID}]}


def _vis(vid: str, title: str, vis_type: str, aggs: list[dict], params: dict | None = None,
         query: str = "") -> dict:
    vis_state = {"title": title, "type": vis_type, "aggs": aggs, "params": params or {}}
    source = {"query": {"query": query, "language": "lucene"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {"type": "visualization", "id": vid, "attributes": {
        "title": title, "visState": json.dumps(vis_state), "uiStateJSON": "{}", "description": "",
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                        "id": DATA_VIEW_ID}]}


# syndicated copies of a story count once in sums and counts (stories written before clusters count too)
ONE_PER_CLUSTER = "NOT cluster_lead:false"


def visualizations() -> list[dict]:
    return [
        _vis("nw-vis-usd-by-recipient", "USD financing by recipient country over time", "line", [
            {"id": "1", "enabled": True, "type": "sum", "schema": "metric", "params": {"field": "finance_usd_total"}},
            {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
             "params": {"field": "published_at", "interval": "M", "min_doc_count": 1}},
            {"id": "3", "enabled": True, "type": "terms", "schema": "group",
             "params": {"field": "recipients", "size": 10, "order": "desc", "orderBy": "1"}}],
            {"type": "line", "addLegend": True, "legendPosition": "right"},
            query=f"recipients:* AND {ONE_PER_CLUSTER}"),
        _vis("nw-vis-top-lenders", "Top lenders", "table", [
            {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
            {"id": "2", "enabled": True, "type": "sum", "schema": "metric", "params": {"field": "finance_usd_total"}},
            {"id": "3", "enabled": True, "type": "terms", "schema": "bucket",
             "params": {"field": "lenders", "size": 15, "order": "desc", "orderBy": "1"}}], {"perPage": 15},
            query=ONE_PER_CLUSTER),
        _vis("nw-vis-top-orgs", "Top organisations", "table", [
            {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
            {"id": "2", "enabled": True, "type": "terms", "schema": "bucket",
             "params": {"field": "orgs", "size": 20, "order": "desc", "orderBy": "1"}}], {"perPage": 20}),
    ]


def saved_objects(prefix: str = "newswatch") -> list[dict]:
    data_view = {"type": "index-pattern", "id": DATA_VIEW_ID, "attributes": {
        "title": f"{prefix}-stories", "name": "newswatch stories", "timeFieldName": "published_at"},
        "references": []}
    searches = [_search_object(s) for s in saved_searches(prefix)]
    vis = visualizations()
    panels, refs = [], []
    layout = [("nw-vis-usd-by-recipient", "visualization", 0, 0, 48, 15),
              ("nw-vis-top-lenders", "visualization", 0, 15, 24, 15),
              ("nw-vis-top-orgs", "visualization", 24, 15, 24, 15),
              ("nw-search-central-asia-financing", "search", 0, 30, 48, 20)]
    for i, (oid, otype, x, y, w, h) in enumerate(layout):
        ref = f"panel_{i}"
        panels.append({"panelIndex": str(i + 1), "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i + 1)},
                       "embeddableConfig": {}, "panelRefName": ref, "version": "8.19.0"})
        refs.append({"name": ref, "type": otype, "id": oid})
    dashboard = {"type": "dashboard", "id": "nw-dashboard", "attributes": {
        "title": "newswatch — Central Asia financing", "description": "Financing flows, lenders, organisations",
        "panelsJSON": json.dumps(panels), "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": False, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
            {"query": {"query": "", "language": "lucene"}, "filter": []})}}, "references": refs}
    return [data_view, *searches, *vis, dashboard]


def to_ndjson(objects: list[dict]) -> str:
    return "".join(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n" for o in objects)


def export(path: Path = NDJSON_PATH, prefix: str = "newswatch") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_ndjson(saved_objects(prefix)), encoding="utf-8")
    return path


def import_to_kibana(url: str, path: Path = NDJSON_PATH, *, api_key: str | None = None,
                     username: str | None = None, password: str | None = None, space: str | None = None,
                     timeout: float = 30.0) -> dict:
    """POST the NDJSON to Kibana's saved-objects import API (overwrite); returns Kibana's answer."""
    import requests

    base = url.rstrip("/") + (f"/s/{space}" if space else "")
    headers = {"kbn-xsrf": "newswatch"}
    auth = None
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif username:
        auth = (username, password or "")
    with open(path, "rb") as fh:
        resp = requests.post(f"{base}/api/saved_objects/_import", params={"overwrite": "true"}, headers=headers,
                             auth=auth, files={"file": ("newswatch.ndjson", fh, "application/ndjson")},
                             timeout=timeout)
    try:
        body = resp.json()
    except ValueError:
        body = {"raw": resp.text[:2000]}
    if resp.status_code >= 400 or not body.get("success", False):
        raise RuntimeError(f"Kibana import failed ({resp.status_code}): {json.dumps(body)[:2000]}")
    return body
