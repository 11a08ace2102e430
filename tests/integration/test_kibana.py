"""Kibana saved objects: generated from the schema, consistent, and their searches run on the real server."""
from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from newswatch import kibana
from newswatch.schemas.deals import is_deal
from newswatch.schemas.mapping import ERRORS_MAPPINGS, RUNS_MAPPINGS, story_mappings

pytestmark = pytest.mark.integration


def _objects() -> list[dict]:
    return [json.loads(line) for line in kibana.NDJSON_PATH.read_text(encoding="utf-8").splitlines() if line]


def _mapped_fields(mappings: dict) -> set[str]:
    out = set()

    def walk(props, prefix=""):
        for name, spec in props.items():
            out.add(prefix + name)
            for sub in (spec.get("fields") or {}):
                out.add(f"{prefix}{name}.{sub}")
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")

    walk(mappings["properties"])
    return out


INDEX_FIELDS = {"stories": _mapped_fields(story_mappings()), "errors": _mapped_fields(ERRORS_MAPPINGS),
                "runs": _mapped_fields(RUNS_MAPPINGS)}
_FIELD_QUERIES = ("term", "terms", "range", "prefix", "exists", "match", "match_phrase", "wildcard")


def _dsl_fields(node) -> set[str]:
    """Every field an Elasticsearch request (query or aggregations) names."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("field", "path") and isinstance(value, str):
                found.add(value)
            elif key in _FIELD_QUERIES and isinstance(value, dict) and "field" not in value:  # not an aggregation
                found |= {k for k in value if k not in ("boost", "_name")}
            found |= _dsl_fields(value)
    elif isinstance(node, list):
        for item in node:
            found |= _dsl_fields(item)
    return found


def _spec(o: dict) -> dict:
    return json.loads(json.loads(o["attributes"]["visState"])["params"]["spec"])


def test_committed_ndjson_is_what_the_schema_generates():
    assert kibana.NDJSON_PATH.read_text(encoding="utf-8") == kibana.to_ndjson(kibana.saved_objects()), \
        "run `newswatch kibana export` after changing the schema or the rules"


def test_references_resolve_and_fields_exist():
    objs = _objects()
    ids = {(o["type"], o["id"]) for o in objs}
    kinds = {o["type"] for o in objs}
    assert {"index-pattern", "search", "visualization", "dashboard"} <= kinds
    views = {o["id"]: o["attributes"]["title"].split("-", 1)[1] for o in objs if o["type"] == "index-pattern"}
    assert sorted(views.values()) == ["errors", "runs", "stories"]
    for o in objs:
        for ref in o.get("references", []):
            assert (ref["type"], ref["id"]) in ids, (o["id"], ref)
        attrs = o["attributes"]
        index = "stories"
        used = set(attrs.get("columns", []))
        meta = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta:
            source = json.loads(meta)
            query = source["query"]
            assert query["language"] == "lucene"
            used |= set(re.findall(r"\b([a-z_]+(?:\.[a-z_]+)?):", query["query"]))
            for f in source["filter"]:
                assert f["meta"]["type"] == "custom" and json.loads(f["meta"]["value"]) == f["query"]
                assert any(r["name"] == f["meta"]["indexRefName"] for r in o["references"])
                used |= _dsl_fields(f["query"])
            if o["type"] == "search":
                index = views[next(r["id"] for r in o["references"] if r["name"].endswith("searchSourceJSON.index"))]
        if o["type"] == "visualization":
            url = kibana.vega_request(_spec(o))
            index = url["index"].split("-", 1)[1]
            assert url["%context%"] is True and "query" not in url["body"]
            assert url["%timefield%"] in INDEX_FIELDS[index]
            used |= _dsl_fields(url["body"])
        if o["type"] == "dashboard":
            for panel in json.loads(attrs["panelsJSON"]):
                assert any(r["name"] == panel["panelRefName"] for r in o["references"])
        if o["type"] == "index-pattern":
            assert attrs["timeFieldName"] in INDEX_FIELDS[attrs["title"].split("-", 1)[1]]
        missing = used - INDEX_FIELDS[index]
        assert not missing, f"{o['id']} uses fields not in the {index} mapping: {missing}"


# ---------------------------------------------------------------- on the real server, over the analyst corpus


def _name(story: dict) -> str:
    return urlsplit(story["canonical_url"]).path.rsplit("/", 1)[-1]


def _stories(es, s) -> dict[str, dict]:
    hits = es.search(index=s.index("stories"), query={"match_all": {}}, size=200)["hits"]["hits"]
    return {_name(h["_source"]): {**h["_source"], "_id": h["_id"]} for h in hits}


def _objects_for(s) -> dict[str, dict]:
    return {o["id"]: o for o in kibana.saved_objects(s.index_prefix)}


def _run_vis(es, obj: dict, query: dict | None = None) -> dict:
    """What Kibana asks Elasticsearch for this chart: its request, with the dashboard's query for %context%."""
    url = kibana.vega_request(_spec(obj))
    return es.search(index=url["index"], body={**url["body"], "query": query or {"match_all": {}}})["aggregations"]


def _search_names(es, s, saved: dict) -> set[str]:
    resp = es.search(index=s.index("stories"), query=kibana.search_request(saved), size=200)
    return {_name(h["_source"]) for h in resp["hits"]["hits"]}


def _deals(stories) -> list[tuple[dict, dict]]:
    return [(s, m) for s in stories for m in s["finance"] if is_deal(m)]


def _usd(pairs) -> float:
    return sum(m["usd"] or 0 for _s, m in pairs)


def _grouped(pairs, key) -> dict:
    out: dict = {}
    for s, m in pairs:
        k = key(m)
        if k is None:
            continue
        usd, n, ids = out.get(k, (0.0, 0, set()))
        out[k] = (usd + (m["usd"] or 0), n + 1, ids | {s["_id"]})
    return {k: (pytest.approx(usd, abs=0.01), n, len(ids)) for k, (usd, n, ids) in out.items()}


def _buckets(buckets) -> dict:
    return {b["key"]: (b["usd"]["value"], b["doc_count"], b["stories"]["doc_count"]) for b in buckets}


def test_deal_charts_add_up_to_each_deal_once(analyst_corpus, es_client):
    """Each chart's aggregation, run as Kibana runs it, equals the deals of the stored stories counted in
    Python with the schema's definition of a deal (equivalents, repeats and background figures out)."""
    s = analyst_corpus
    objs, stories = _objects_for(s), _stories(es_client, s)
    pairs = _deals(stories.values())
    by_recipient = _run_vis(es_client, objs["nw-vis-usd-by-recipient"])["deals"]["deal"]["recipients"]["buckets"]
    assert _buckets(by_recipient) == _grouped(pairs, lambda m: m["recipient"])
    lenders = _run_vis(es_client, objs["nw-vis-top-lenders"])["deals"]["deal"]["lenders"]["buckets"]
    assert _buckets(lenders) == _grouped(pairs, lambda m: m["lender_name"] if m["lender"] else None)
    countries = _run_vis(es_client, objs["nw-vis-top-lender-countries"])["deals"]["deal"]["lenders"]["buckets"]
    assert _buckets(countries) == _grouped(pairs, lambda m: (m["lender_country"] or "multilateral")
                                           if m["lender"] else None)
    months = _run_vis(es_client, objs["nw-vis-deals-over-time"])["months"]["buckets"]
    expected: dict = {}
    for st in stories.values():
        when = datetime.fromisoformat(st["published_at"]).astimezone(timezone.utc)
        key = f"{when:%Y-%m}"
        expected[key] = expected.get(key, 0.0) + _usd([(st, m) for m in st["finance"] if is_deal(m)])
    assert {b["key_as_string"][:7]: b["deals"]["deal"]["usd"]["value"] for b in months} == \
        {k: pytest.approx(v, abs=0.01) for k, v in expected.items()}
    # the map: one point per recipient, at its capital, the same sums
    points = _run_vis(es_client, objs["nw-vis-deals-map"])["deals"]["deal"]["recipients"]["buckets"]
    assert _buckets(points) == _buckets(by_recipient)
    capital = {m["recipient"]: m["recipient_location"] for _s, m in pairs if m["recipient"]}
    for b in points:
        assert b["where"]["location"]["lat"] == pytest.approx(capital[b["key"]]["lat"], abs=1e-4)
        assert b["where"]["location"]["lon"] == pytest.approx(capital[b["key"]]["lon"], abs=1e-4)
    assert capital["KG"] == pytest.approx({"lat": 42.87, "lon": 74.59}, abs=0.01)  # Bishkek
    orgs = _run_vis(es_client, objs["nw-vis-top-orgs"])["orgs"]["buckets"]
    for b in orgs:
        assert b["doc_count"] == sum(b["key"] in st["orgs"] for st in stories.values())


def _story_vis(es, objs, stories, name, vis="nw-vis-usd-by-recipient") -> dict:
    """The by-recipient chart for one story (the dashboard filtered to it): recipient -> USD."""
    aggs = _run_vis(es, objs[vis], {"ids": {"values": [stories[name]["_id"]]}})
    return {b["key"]: b["usd"]["value"] for b in aggs["deals"]["deal"]["recipients"]["buckets"]}


def _mention(story, text) -> dict:
    return next(m for m in story["finance"] if m["text"] == text)


def test_deal_charts_tell_what_the_stories_say(analyst_corpus, es_client):
    """Each sample story's deals, as a reader counts them, against the charts filtered to that story."""
    s = analyst_corpus
    objs, stories = _objects_for(s), _stories(es_client, s)
    # Kambarata: the World Bank's $250 million loan to Kyrgyzstan (plus the EU's €35 million grant and the AIIB's
    # $150 million under consideration, for the same plant, where the extraction gives them to Kyrgyzstan); the
    # $3 billion total cost (an aggregate of these) and the $4.4 billion debt stock are no deals
    kamb = stories["kyrgyzstan-kambarata-hydropower-financing.html"]
    grant = _mention(kamb, "€35 million")["usd"]
    assert _mention(kamb, "about $3 billion")["aggregate"] is True
    assert _story_vis(es_client, objs, stories, "kyrgyzstan-kambarata-hydropower-financing.html")["KG"] in (
        250e6, pytest.approx(250e6 + grant), pytest.approx(250e6 + grant + 150e6))
    month = _run_vis(es_client, objs["nw-vis-deals-over-time"], {"ids": {"values": [kamb["_id"]]}})
    (feb,) = month["months"]["buckets"]
    total = feb["deals"]["deal"]["usd"]["value"]  # the loan, the grant and the AIIB's $150 million at most
    assert 250e6 <= total <= 250e6 + grant + 150e6 + 0.01 and kamb["deal_usd_total"] == pytest.approx(total)
    assert sum(m["usd"] for m in kamb["finance"] if m["usd"]) > 7.8e9  # what the old chart summed
    # the Kazakh smelter: 8 billion yuan once, not again as "(about $1.1 billion)", and not $40 billion of trade
    smelter = stories["kazakhstan-copper-smelter-chinese-investment.html"]
    yuan = _mention(smelter, "8 billion yuan")["usd"]
    kz = _story_vis(es_client, objs, stories, "kazakhstan-copper-smelter-chinese-investment.html")["KZ"]
    assert kz in (pytest.approx(yuan), pytest.approx(yuan + 2.8e9))  # (+ the $2.8 billion of FDI if a deal)
    # the Turkmen credit line: 3 billion yuan, its dollar equivalent not added
    tm_story = stories["turkmenistan-china-gas-yuan-loan.html"]
    assert _story_vis(es_client, objs, stories, "turkmenistan-china-gas-yuan-loan.html")["TM"] == \
        pytest.approx(_mention(tm_story, "3 billion yuan")["usd"])
    # Rogun: a restructuring of $700 million of debt is no new deal
    assert _story_vis(es_client, objs, stories, "tajikistan-rogun-debt-exim.html").get("TJ", 0) in (0, 350e6)
    # a tenge loan with its euro equivalent: the tenge (in USD at the CBR rate of the day) counts, the euro not
    ebrd = stories["kz-ebrd-petropavlovsk-water-tenge-loan.html"]
    tenge = _mention(ebrd, "2.2 billion tenge")
    assert tenge["usd"] is not None and tenge["usd_note"] is None and _mention(ebrd, "€7 million")["equivalent_of"] == 0
    # market turnover is not a deal: the Seoul story is in no chart
    seoul = stories["seoul-stocks-chip-rally.html"]
    assert _story_vis(es_client, objs, stories, "seoul-stocks-chip-rally.html") == {}
    lenders = _run_vis(es_client, objs["nw-vis-top-lenders"], {"ids": {"values": [seoul["_id"]]}})
    assert lenders["deals"]["deal"]["lenders"]["buckets"] == []
    # lenders are readable: names and states, never a mix of codes and ids
    names = {b["key"] for b in _run_vis(es_client, objs["nw-vis-top-lenders"])["deals"]["deal"]["lenders"]["buckets"]}
    assert {"World Bank", "China", "Export-Import Bank of China", "China Development Bank"} <= names
    assert not {"CN", "exim-china", "world-bank"} & names
    by_state = {b["key"]: b["usd"]["value"] for b in _run_vis(es_client, objs["nw-vis-top-lender-countries"])[
        "deals"]["deal"]["lenders"]["buckets"]}
    china = _deals(stories.values())
    assert by_state["CN"] == pytest.approx(_usd([(st, m) for st, m in china if m["lender_country"] == "CN"]))
    assert by_state["RU"] >= 1e9 and by_state["multilateral"] > 0


def test_saved_searches_on_the_real_server(analyst_corpus, es_client, gold):
    s = analyst_corpus
    searches = {x["title"]: x for x in kibana.saved_searches(s.index_prefix)}
    stories = _stories(es_client, s)
    alerted = {n for n, a in gold["articles"].items() if a["alert_central_asia_financing"]}
    assert _search_names(es_client, s, searches["Central Asia financing"]) & set(gold["articles"]) == alerted
    china = _search_names(es_client, s, searches["China lending to Central Asia"])
    assert china == {n for n, st in stories.items() if any(
        is_deal(m) and m["lender_country"] == "CN" and m["recipient"] in kibana.CENTRAL_ASIA for m in st["finance"])}
    assert {"turkmenistan-china-gas-yuan-loan.html", "kazakhstan-copper-smelter-chinese-investment.html"} <= china
    assert "pakistan-china-loan-rollover.html" not in china  # Chinese, but not to Central Asia
    assert "tajikistan-rogun-debt-exim.html" not in china  # debt to China Exim: a debt stock, not a deal
    assert "uzbekistan-adb-solar-loan.html" not in china  # ADB money is not Chinese lending
    russia = _search_names(es_client, s, searches["Russia lending to Central Asia"])
    assert russia == {"russia-kyrgyz-development-fund-1bn.html"}
    large = _search_names(es_client, s, searches["Large deals (≥ $100M, deals only)"])
    assert large == {n for n, st in stories.items() if any(is_deal(m) and (m["usd"] or 0) >= 1e8 for m in st["finance"])}
    assert {"uzbekistan-adb-solar-loan.html", "kyrgyzstan-kambarata-hydropower-financing.html"} <= large
    # market, trade and debt figures over $100M do not make a story a large deal
    assert not {"seoul-stocks-chip-rally.html", "tokyo-stocks-yen.html", "yomiuri-china-central-asia-summit.html",
                "kyrgyzstan-parliament-election.html"} & large
    assert _search_names(es_client, s, searches["Latest stories"]) == set(stories)
    errors = es_client.search(index=s.index("errors"), query=kibana.search_request(searches["Latest errors"]), size=50)
    assert errors["hits"]["total"]["value"] > 0


def test_pipeline_health_charts(analyst_corpus, es_client):
    s = analyst_corpus
    objs = _objects_for(s)
    es_client.indices.refresh(index=f"{s.index('errors')},{s.index('runs')}")
    errors = [h["_source"] for h in es_client.search(index=s.index("errors"), size=500)["hits"]["hits"]]
    stages = _run_vis(es_client, objs["nw-vis-errors-by-stage"])["stages"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in stages} == {st: sum(e["stage"] == st for e in errors)
                                                          for st in {e["stage"] for e in errors}}
    assert {"poll", "fetch"} <= {b["key"] for b in stages}
    for b in stages:
        assert {t["key"]: t["doc_count"] for t in b["types"]["buckets"]} == {
            k: sum(e["stage"] == b["key"] and e["error_type"] == k for e in errors)
            for k in {e["error_type"] for e in errors if e["stage"] == b["key"]}}
    feeds = _run_vis(es_client, objs["nw-vis-failing-feeds"])["polls"]["feeds"]["buckets"]
    failing = {e["feed"] for e in errors if e["stage"] == "poll" and e["error_type"] != "bad_entry"}
    assert {b["key"] for b in feeds} == failing
    assert any(f.endswith("entity-bomb.rss.xml") for f in failing) and any(f.endswith("truncated.rss.xml")
                                                                          for f in failing)
    (run,) = _run_vis(es_client, objs["nw-vis-stories-per-run"])["runs"]["buckets"]
    summary = es_client.get(index=s.index("runs"), id=run["key"])["_source"]
    assert run["indexed"]["value"] == summary["counts"]["indexed"] == len(_stories(es_client, s))
    assert run["failed"]["value"] == summary["counts"]["failed"] and run["new"]["value"] == summary["counts"]["new"]


def test_kibana_import_posts_the_file_with_overwrite(tmp_path):
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.update(path=self.path, headers=dict(self.headers), body=body)
            out = json.dumps({"success": True, "successCount": body.count(b'"attributes": ')}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = kibana.import_to_kibana(f"http://127.0.0.1:{httpd.server_address[1]}", api_key="k3y")
    finally:
        httpd.shutdown()
    assert seen["path"] == "/api/saved_objects/_import?overwrite=true"
    assert seen["headers"]["kbn-xsrf"] and seen["headers"]["Authorization"] == "ApiKey k3y"
    assert seen["headers"]["Content-Type"].startswith("multipart/form-data")
    assert kibana.NDJSON_PATH.read_bytes() in seen["body"]
    assert result["successCount"] == len(_objects())
