"""Kibana saved objects: generated from the schema, consistent, and their searches run on the real server."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from newswatch import kibana
from newswatch.schemas.mapping import story_mappings

pytestmark = pytest.mark.integration


def _objects() -> list[dict]:
    return [json.loads(line) for line in kibana.NDJSON_PATH.read_text(encoding="utf-8").splitlines() if line]


def _mapped_fields() -> set[str]:
    out = set()

    def walk(props, prefix=""):
        for name, spec in props.items():
            out.add(prefix + name)
            for sub in (spec.get("fields") or {}):
                out.add(f"{prefix}{name}.{sub}")
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")

    walk(story_mappings()["properties"])
    return out


def test_committed_ndjson_is_what_the_schema_generates():
    assert kibana.NDJSON_PATH.read_text(encoding="utf-8") == kibana.to_ndjson(kibana.saved_objects()), \
        "run `newswatch kibana export` after changing the schema or the rules"


def test_references_resolve_and_fields_exist():
    objs = _objects()
    ids = {(o["type"], o["id"]) for o in objs}
    fields = _mapped_fields()
    kinds = {o["type"] for o in objs}
    assert {"index-pattern", "search", "visualization", "dashboard"} <= kinds
    for o in objs:
        for ref in o.get("references", []):
            assert (ref["type"], ref["id"]) in ids, (o["id"], ref)
        attrs = o["attributes"]
        used = set(attrs.get("columns", []))
        if "visState" in attrs:
            for agg in json.loads(attrs["visState"])["aggs"]:
                if agg["params"].get("field"):
                    used.add(agg["params"]["field"])
        meta = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta:
            query = json.loads(meta)["query"]
            assert query["language"] == "lucene"
            used |= set(re.findall(r"\b([a-z_]+(?:\.[a-z_]+)?):", query["query"]))
        if o["type"] == "dashboard":
            for panel in json.loads(attrs["panelsJSON"]):
                assert any(r["name"] == panel["panelRefName"] for r in o["references"])
        if o["type"] == "index-pattern":
            assert attrs["timeFieldName"] == "published_at" and "published_at" in fields
        missing = used - fields
        assert not missing, f"{o['id']} uses fields not in the mapping: {missing}"


@pytest.fixture()
def stories(settings, feeds_file, prefect_harness, es_client):
    from newswatch.flows.ingest import ingest_flow

    ingest_flow(feeds_file("central-asia.rss.xml", "asia-world.atom.xml"), overrides=settings.public())
    return settings


def _run(es, index, query: str) -> set[str]:
    resp = es.search(index=index, query={"query_string": {"query": query}}, size=50)
    return {urlsplit(h["_source"]["canonical_url"]).path.rsplit("/", 1)[-1] for h in resp["hits"]["hits"]}


def _nested(es, index, query: dict) -> set[str]:
    resp = es.search(index=index, query={"nested": {"path": "finance", "query": query}}, size=50)
    return {urlsplit(h["_source"]["canonical_url"]).path.rsplit("/", 1)[-1] for h in resp["hits"]["hits"]}


def test_saved_searches_on_the_real_server(stories, es_client, gold):
    index = f"{stories.index_prefix}-stories"
    searches = {s["title"]: json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
                for o in _objects() if o["type"] == "search" for s in [o["attributes"]]}
    alerted = {n for n, a in gold["articles"].items() if a["alert_central_asia_financing"]}
    assert _run(es_client, index, searches["Central Asia financing"]) == alerted
    china = _run(es_client, index, searches["China lending"])
    assert china == _nested(es_client, index, {"terms": {"finance.lender": kibana.CHINA_LENDERS}})
    assert {"pakistan-china-loan-rollover.html", "turkmenistan-china-gas-yuan-loan.html"} <= china
    assert "uzbekistan-adb-solar-loan.html" not in china  # ADB money is not Chinese lending
    large = _run(es_client, index, searches["Large deals > $100M"])
    assert large == _nested(es_client, index, {"range": {"finance.usd": {"gte": 1e8}}})
    assert "uzbekistan-adb-solar-loan.html" in large and "kyrgyzstan-parliament-election.html" not in large
    assert _run(es_client, index, searches["Latest stories"]) == set(gold["articles"])


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
