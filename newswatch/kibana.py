"""Kibana saved objects generated from the schema: data views, saved searches, charts and two dashboards.

``newswatch kibana export`` writes ``deploy/kibana/newswatch.ndjson`` from this module (tests check the file
equals what this module generates, so the two never drift); ``newswatch kibana import`` posts it to Kibana's
saved-objects import API. Saved searches are a Lucene query plus query-DSL filters (a deal is one nested
finance mention: Lucene cannot say "the same mention"), and the charts are Vega specs that carry their
Elasticsearch request; the tests run both on the real server.
"""
from __future__ import annotations

import json
from pathlib import Path

from .alerting.rules import load_rules
from .extraction.gazetteer import CENTRAL_ASIA
from .schemas.deals import deal_query, has_deal

DATA_VIEW_ID = "newswatch-stories"
ERRORS_VIEW_ID = "newswatch-errors"
RUNS_VIEW_ID = "newswatch-runs"
NDJSON_PATH = Path(__file__).resolve().parent.parent / "deploy" / "kibana" / "newswatch.ndjson"
KIBANA_VERSION = "8.19.0"
# index kind -> (data view id, time field)
DATA_VIEWS = {"stories": (DATA_VIEW_ID, "published_at"), "errors": (ERRORS_VIEW_ID, "at"),
              "runs": (RUNS_VIEW_ID, "started_at")}


def _lucene_list(values) -> str:
    return "(" + " OR ".join(f'"{v}"' if " " in v else v for v in values) + ")"


def central_asia_financing_query() -> str:
    """The bundled alert rule `central-asia-financing`, as a Lucene query string."""
    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    either = [f"finance_kinds:{_lucene_list(rule.finance_kinds)}"]
    if rule.keywords:
        words = _lucene_list(rule.phrases())
        either += [f"title:{words}", f"text:{words}"]
    return f"countries:{_lucene_list(rule.countries)} AND ({' OR '.join(either)})"


def _lending(country: str) -> dict:
    """Stories with a deal whose lender is ``country`` (the state, or an institution of it) and whose recipient
    is a Central Asian country."""
    return has_deal({"term": {"finance.lender_country": country}},
                    {"terms": {"finance.recipient": list(CENTRAL_ASIA)}})


def saved_searches(prefix: str = "newswatch") -> list[dict]:
    """(id, title, description, lucene query, query DSL filters, columns) of the saved searches."""
    deal_columns = ["title", "source_name", "deal_kinds", "lender_countries", "recipients", "deal_usd_total"]
    return [
        {"id": "nw-search-central-asia-financing", "title": "Central Asia financing",
         "description": "The alert rule central-asia-financing",
         "query": central_asia_financing_query(), "filters": [],
         "columns": ["title", "source_name", "countries", "deal_kinds", "recipients", "deal_usd_total"]},
        {"id": "nw-search-china-lending", "title": "China lending to Central Asia",
         "description": "A deal (loan, grant, aid, investment, financing) from China or a Chinese institution to "
                        "KZ, KG, TJ, TM or UZ",
         "query": "", "filters": [("deal: lender CN, recipient in Central Asia", _lending("CN"))],
         "columns": deal_columns},
        {"id": "nw-search-russia-lending", "title": "Russia lending to Central Asia",
         "description": "A deal from Russia or a Russian institution to KZ, KG, TJ, TM or UZ",
         "query": "", "filters": [("deal: lender RU, recipient in Central Asia", _lending("RU"))],
         "columns": deal_columns},
        {"id": "nw-search-large-deals", "title": "Large deals (≥ $100M, deals only)",
         "description": "A single deal worth at least $100 million; trade, debt stocks, market figures and "
                        "reserves do not count, nor equivalents or repeats of a figure",
         "query": "", "filters": [("deal ≥ $100M", has_deal({"range": {"finance.usd": {"gte": 1e8}}}))],
         "columns": deal_columns},
        {"id": "nw-search-latest", "title": "Latest stories", "description": "", "query": "*", "filters": [],
         "columns": ["title", "source_name", "countries", "regions"]},
        {"id": "nw-search-latest-errors", "title": "Latest errors", "description": "Failures of every stage",
         "query": "*", "filters": [], "columns": ["stage", "error_type", "url", "feed", "reason"],
         "view": "errors", "sort": "at"},
    ]


def search_request(s: dict) -> dict:
    """The query a saved search runs (its Lucene query and its filters), as Elasticsearch query DSL."""
    must = [{"query_string": {"query": s["query"]}}] if s["query"] else []
    return {"bool": {"must": must or [{"match_all": {}}], "filter": [q for _, q in s["filters"]]}}


def _search_object(s: dict) -> dict:
    view_id = DATA_VIEWS[s.get("view", "stories")][0]
    filters, refs = [], [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                          "id": view_id}]
    for i, (alias, query) in enumerate(s["filters"]):
        ref = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"
        filters.append({"meta": {"alias": alias, "negate": False, "disabled": False, "type": "custom", "key": "query",
                                 "value": json.dumps(query), "indexRefName": ref},
                        "query": query, "$state": {"store": "appState"}})
        refs.append({"name": ref, "type": "index-pattern", "id": view_id})
    source = {"query": {"query": s["query"], "language": "lucene"}, "filter": filters,
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {"type": "search", "id": s["id"], "attributes": {
        "title": s["title"], "description": s["description"], "columns": s["columns"],
        "sort": [[s.get("sort", "published_at"), "desc"]],
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}}, "references": refs}


# ---------------------------------------------------------------- visualisations (Vega)
#
# Kibana's own chart types cannot aggregate inside nested fields, and every deal is a nested finance mention, so
# the charts are Vega specs: each carries the exact Elasticsearch request it runs (``%context%``: the dashboard's
# query and filters, ``%timefield%``: its time range), which the tests run on the real server.


def _deals(*extra: dict, aggs: dict) -> dict:
    """Aggregations over the deals of the matching stories (nested finance mentions that are deals)."""
    return {"deals": {"nested": {"path": "finance"}, "aggs": {"deal": {"filter": deal_query("finance", *extra),
                                                                        "aggs": aggs}}}}


def _usd_and_stories() -> dict:
    return {"usd": {"sum": {"field": "finance.usd"}}, "stories": {"reverse_nested": {}}}


def _bars(property_: str, category: str, value: str, *, horizontal: bool = False, color: str | None = None,
          transform: list | None = None, tooltip: list | None = None, value_title: str = "USD of deals") -> dict:
    """A Vega-Lite bar chart of the buckets at ``property_`` of the response."""
    cat = {"field": "key", "type": "nominal", "sort": "-x" if horizontal else "-y", "title": category}
    val = {"field": value, "type": "quantitative", "title": value_title}
    enc = {"y": cat, "x": val} if horizontal else {"x": cat, "y": val}
    if color:
        enc["color"] = {"field": color, "type": "nominal"}
    enc["tooltip"] = tooltip or [{"field": "key", "title": category}, {"field": value, "title": value_title,
                                                                       "format": ",.0f"}]
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"format": {"property": property_}}, "transform": transform or [],
            "mark": {"type": "bar", "tooltip": True}, "encoding": enc}


def _deal_bars(path: str, category: str, *, horizontal: bool = False) -> dict:
    return _bars(path, category, "usd", horizontal=horizontal,
                 transform=[{"calculate": "datum.usd.value", "as": "usd"},
                            {"calculate": "datum.stories.doc_count", "as": "stories"}],
                 tooltip=[{"field": "key", "title": category},
                          {"field": "usd", "title": "USD of deals", "format": ",.0f"},
                          {"field": "doc_count", "title": "deals"}, {"field": "stories", "title": "stories"}])


def _map_spec() -> dict:
    """Vega on Kibana's base map: a circle per recipient country (at its capital), sized by the USD of deals."""
    return {
        "$schema": "https://vega.github.io/schema/vega/v5.json",
        "config": {"kibana": {"type": "map", "latitude": 41, "longitude": 66, "zoom": 3}},
        "data": [{"name": "table", "format": {"property": "aggregations.deals.deal.recipients.buckets"},
                  "transform": [{"type": "filter", "expr": "datum.where.location != null"},
                                {"type": "geopoint", "projection": "projection",
                                 "fields": ["where.location.lon", "where.location.lat"]}]}],
        "scales": [{"name": "size", "type": "sqrt", "domain": {"data": "table", "field": "usd.value"},
                    "range": [40, 4000]}],
        "marks": [{"type": "symbol", "from": {"data": "table"}, "encode": {"update": {
            "size": {"scale": "size", "field": "usd.value"}, "fill": {"value": "#d6604d"},
            "fillOpacity": {"value": 0.6}, "stroke": {"value": "#67001f"},
            "xc": {"signal": "datum.x"}, "yc": {"signal": "datum.y"},
            "tooltip": {"signal": "{recipient: datum.key, 'USD of deals': format(datum.usd.value, ',.0f'), "
                                  "deals: datum.doc_count, stories: datum.stories.doc_count}"}}}}]}


def visualization_specs(prefix: str = "newswatch") -> list[dict]:
    """Each chart: id, title, the index kind it reads, its request body (aggregations) and its Vega spec."""
    recipients = {"recipients": {"terms": {"field": "finance.recipient", "size": 30, "order": {"usd": "desc"}},
                                 "aggs": {**_usd_and_stories(),
                                          "where": {"geo_centroid": {"field": "finance.recipient_location"}}}}}
    lender = {"exists": {"field": "finance.lender"}}
    by_name = {"lenders": {"terms": {"field": "finance.lender_name", "size": 15, "order": {"usd": "desc"}},
                           "aggs": _usd_and_stories()}}
    by_country = {"lenders": {"terms": {"field": "finance.lender_country", "size": 15, "order": {"usd": "desc"},
                                        "missing": "multilateral"}, "aggs": _usd_and_stories()}}
    months = {"months": {"date_histogram": {"field": "published_at", "calendar_interval": "month",
                                            "min_doc_count": 1},
                         "aggs": _deals(aggs={"usd": {"sum": {"field": "finance.usd"}}})}}
    failing = {"polls": {"filter": {"bool": {"filter": [{"term": {"stage": "poll"}}],
                                             "must_not": [{"term": {"error_type": "bad_entry"}}]}},
                         "aggs": {"feeds": {"terms": {"field": "feed", "size": 20},
                                            "aggs": {"last": {"max": {"field": "at"}},
                                                     "kinds": {"terms": {"field": "error_type", "size": 3}}}}}}}
    stages = {"stages": {"terms": {"field": "stage", "size": 10},
                         "aggs": {"types": {"terms": {"field": "error_type", "size": 10}}}}}
    runs = {"runs": {"terms": {"field": "run_id", "size": 30, "order": {"started": "desc"}},
                     "aggs": {"started": {"max": {"field": "started_at"}},
                              **{k: {"sum": {"field": f"counts.{k}"}} for k in ("new", "indexed", "failed")}}}}
    orgs = {"orgs": {"terms": {"field": "orgs", "size": 20}}}
    return [
        {"id": "nw-vis-usd-by-recipient", "title": "Deals (USD) by recipient country", "index": "stories",
         "description": "Sum of the USD values of the deals (loan, grant, aid, investment, financing; each deal "
                        "once) per recipient country",
         "aggs": _deals(aggs=recipients),
         "spec": _deal_bars("aggregations.deals.deal.recipients.buckets", "recipient")},
        {"id": "nw-vis-deals-over-time", "title": "Deals (USD) over time", "index": "stories",
         "description": "Sum of the USD values of the deals of the stories published each month",
         "aggs": months,
         "spec": {**_bars("aggregations.months.buckets", "month", "usd",
                          transform=[{"calculate": "datum.deals.deal.usd.value", "as": "usd"},
                                     {"calculate": "datum.deals.deal.doc_count", "as": "deals"}],
                          tooltip=[{"field": "key", "type": "temporal", "timeUnit": "yearmonth", "title": "month"},
                                   {"field": "usd", "title": "USD of deals", "format": ",.0f"},
                                   {"field": "deals", "title": "deals"}]),
                  "encoding": {"x": {"field": "key", "type": "temporal", "timeUnit": "yearmonth", "title": "month"},
                               "y": {"field": "usd", "type": "quantitative", "title": "USD of deals"},
                               "tooltip": [{"field": "key", "type": "temporal", "timeUnit": "yearmonth"},
                                           {"field": "usd", "format": ",.0f"}, {"field": "deals"}]}}},
        {"id": "nw-vis-top-lenders", "title": "Top lenders by name (deals, USD)", "index": "stories",
         "description": "Sum of the USD values of the deals per lender",
         "aggs": _deals(lender, aggs=by_name),
         "spec": _deal_bars("aggregations.deals.deal.lenders.buckets", "lender", horizontal=True)},
        {"id": "nw-vis-top-lender-countries", "title": "Top lenders by country (deals, USD)", "index": "stories",
         "description": "Sum of the USD values of the deals per lender's state (multilateral: no state)",
         "aggs": _deals(lender, aggs=by_country),
         "spec": _deal_bars("aggregations.deals.deal.lenders.buckets", "lender's country", horizontal=True)},
        {"id": "nw-vis-deals-map", "title": "Map of deals by recipient country", "index": "stories",
         "description": "A circle per recipient country (at its capital), its area the USD of the deals",
         "aggs": _deals(aggs=recipients), "spec": _map_spec()},
        {"id": "nw-vis-top-orgs", "title": "Top organisations", "index": "stories",
         "description": "Stories per organisation mentioned", "aggs": orgs,
         "spec": _bars("aggregations.orgs.buckets", "organisation", "doc_count", horizontal=True,
                       value_title="stories")},
        {"id": "nw-vis-errors-by-stage", "title": "Errors by stage", "index": "errors",
         "description": "Error records per stage (poll, fetch, extract, enrich, index, alert) and kind",
         "aggs": stages,
         "spec": _bars("aggregations.stages.buckets", "stage", "count", color="type", value_title="errors",
                       transform=[{"flatten": ["types.buckets"], "as": ["t"]},
                                  {"calculate": "datum.t.key", "as": "type"},
                                  {"calculate": "datum.t.doc_count", "as": "count"}],
                       tooltip=[{"field": "key", "title": "stage"}, {"field": "type"}, {"field": "count"}])},
        {"id": "nw-vis-failing-feeds", "title": "Failing feeds", "index": "errors",
         "description": "Feeds whose polls failed (rejected entries apart): failures per feed",
         "aggs": failing,
         "spec": _bars("aggregations.polls.feeds.buckets", "feed", "doc_count", horizontal=True,
                       value_title="failed polls",
                       tooltip=[{"field": "key", "title": "feed"}, {"field": "doc_count", "title": "failed polls"},
                                {"field": "last.value_as_string", "title": "last failure"}])},
        {"id": "nw-vis-stories-per-run", "title": "Stories per run", "index": "runs",
         "description": "New, indexed and failed stories of each run", "aggs": runs,
         "spec": {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                  "data": {"format": {"property": "aggregations.runs.buckets"}},
                  "transform": [{"calculate": "datum.started.value", "as": "started_ms"},
                                {"calculate": "datum.indexed.value", "as": "indexed"},
                                {"calculate": "datum.failed.value", "as": "failed"},
                                {"fold": ["indexed", "failed"], "as": ["outcome", "stories"]}],
                  "mark": {"type": "bar", "tooltip": True},
                  "encoding": {"x": {"field": "started_ms", "type": "temporal", "title": "run started"},
                               "y": {"field": "stories", "type": "quantitative", "stack": "zero"},
                               "color": {"field": "outcome", "type": "nominal"},
                               "tooltip": [{"field": "key", "title": "run"}, {"field": "outcome"},
                                           {"field": "stories"}]}}},
    ]


def vega_request(spec: dict) -> dict:
    """The ``url`` of a spec's (first) Elasticsearch data source."""
    data = spec["data"][0] if isinstance(spec["data"], list) else spec["data"]
    return data["url"]


def _vis(v: dict, prefix: str) -> dict:
    _view, timefield = DATA_VIEWS[v["index"]]
    spec = json.loads(json.dumps(v["spec"]))
    data = spec["data"][0] if isinstance(spec["data"], list) else spec["data"]
    data["url"] = {"index": f"{prefix}-{v['index']}", "%context%": True, "%timefield%": timefield,
                   "body": {"size": 0, "aggs": v["aggs"]}}
    spec = {"title": v["title"], **spec}
    vis_state = {"title": v["title"], "type": "vega", "aggs": [],
                 "params": {"spec": json.dumps(spec, indent=2, ensure_ascii=False)}}
    source = {"query": {"query": "", "language": "lucene"}, "filter": []}
    return {"type": "visualization", "id": v["id"], "attributes": {
        "title": v["title"], "visState": json.dumps(vis_state, ensure_ascii=False), "uiStateJSON": "{}",
        "description": v["description"], "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
        "references": []}


def visualizations(prefix: str = "newswatch") -> list[dict]:
    return [_vis(v, prefix) for v in visualization_specs(prefix)]


# syndicated copies (newswatch.clustering) count once: the deals dashboard keeps one story per cluster, its lead
# (stories indexed before clusters existed have no cluster_lead and stay)
ONE_PER_CLUSTER = ("each story once (syndicated copies left out)",
                   {"bool": {"must_not": [{"term": {"cluster_lead": False}}]}})


def _dashboard(did: str, title: str, description: str, layout: list[tuple], filters: tuple = ()) -> dict:
    panels, refs = [], []
    source_filters = []
    for i, (alias, query) in enumerate(filters):
        ref = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"
        source_filters.append({"meta": {"alias": alias, "negate": False, "disabled": False, "type": "custom",
                                        "key": "query", "value": json.dumps(query), "indexRefName": ref},
                               "query": query, "$state": {"store": "appState"}})
        refs.append({"name": ref, "type": "index-pattern", "id": DATA_VIEWS["stories"][0]})
    for i, (oid, otype, x, y, w, h) in enumerate(layout):
        ref = f"panel_{i}"
        panels.append({"panelIndex": str(i + 1), "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i + 1)},
                       "embeddableConfig": {}, "panelRefName": ref, "version": KIBANA_VERSION})
        refs.append({"name": ref, "type": otype, "id": oid})
    return {"type": "dashboard", "id": did, "attributes": {
        "title": title, "description": description,
        "panelsJSON": json.dumps(panels), "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": False, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
            {"query": {"query": "", "language": "lucene"}, "filter": source_filters})}}, "references": refs}


def saved_objects(prefix: str = "newswatch") -> list[dict]:
    views = [{"type": "index-pattern", "id": view_id, "attributes": {
        "title": f"{prefix}-{kind}", "name": f"newswatch {kind}", "timeFieldName": timefield}, "references": []}
        for kind, (view_id, timefield) in DATA_VIEWS.items()]
    searches = [_search_object(s) for s in saved_searches(prefix)]
    vis = visualizations(prefix)
    deals = _dashboard("nw-dashboard", "newswatch — Central Asia deals",
                       "Deals (each counted once, in USD) by recipient, lender and month; saved searches", [
                           ("nw-vis-usd-by-recipient", "visualization", 0, 0, 24, 15),
                           ("nw-vis-deals-map", "visualization", 24, 0, 24, 15),
                           ("nw-vis-deals-over-time", "visualization", 0, 15, 48, 12),
                           ("nw-vis-top-lenders", "visualization", 0, 27, 24, 15),
                           ("nw-vis-top-lender-countries", "visualization", 24, 27, 24, 15),
                           ("nw-search-china-lending", "search", 0, 42, 24, 15),
                           ("nw-search-russia-lending", "search", 24, 42, 24, 15),
                           ("nw-search-large-deals", "search", 0, 57, 48, 15),
                           ("nw-vis-top-orgs", "visualization", 0, 72, 24, 15),
                           ("nw-search-central-asia-financing", "search", 24, 72, 24, 15)],
                       filters=(ONE_PER_CLUSTER,))
    health = _dashboard("nw-dashboard-health", "newswatch — pipeline health",
                        "Errors by stage, failing feeds, stories per run", [
                            ("nw-vis-errors-by-stage", "visualization", 0, 0, 24, 15),
                            ("nw-vis-failing-feeds", "visualization", 24, 0, 24, 15),
                            ("nw-vis-stories-per-run", "visualization", 0, 15, 48, 15),
                            ("nw-search-latest-errors", "search", 0, 30, 48, 20)])
    return [*views, *searches, *vis, deals, health]


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
