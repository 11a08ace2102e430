"""The analysts' question as one query on the real server: loans over $100 million to any Central Asian country."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from newswatch.connectors.es import Indices

pytestmark = pytest.mark.integration


def test_nested_finance_query_over_fixture_stories(settings, feeds_file, prefect_harness, es_client, gold):
    from newswatch.flows.ingest import ingest_flow

    ingest_flow(feeds_file("central-asia.rss.xml", "asia-world.atom.xml"), overrides=settings.public())
    ix = Indices(settings)
    query = {"nested": {"path": "finance", "query": {"bool": {"filter": [
        {"term": {"finance.kind": "loan"}},
        {"range": {"finance.usd": {"gt": 100_000_000}}},
        {"terms": {"finance.recipient": gold["central_asia"]}},
    ]}}, "inner_hits": {}}}
    resp = es_client.search(index=ix.stories, query=query, size=20)
    got = {urlsplit(h["_source"]["canonical_url"]).path.rsplit("/", 1)[-1]: h for h in resp["hits"]["hits"]}
    # what gold says (derived, not copied): the stories with a loan whose recipient is a Central Asian country
    expected = {name for name, a in gold["articles"].items()
                if any(f["kind"] == "loan" and f.get("recipient") in gold["central_asia"] for f in a["finance"])}
    assert set(got) == expected == {"uzbekistan-adb-solar-loan.html", "turkmenistan-china-gas-yuan-loan.html"}
    for h in got.values():
        for inner in h["inner_hits"]["finance"]["hits"]["hits"]:
            f = inner["_source"]
            assert f["kind"] == "loan" and f["usd"] > 1e8 and f["recipient"] in gold["central_asia"]
    # and the Pakistan loan (not Central Asia) is not in it, though it is a loan over $100M
    assert "pakistan-china-loan-rollover.html" not in got
