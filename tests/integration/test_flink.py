"""The same pipeline on Apache Flink (embedded cluster, portable runner, LOOPBACK harness): same documents."""
from __future__ import annotations

import pytest

from newswatch.connectors.es import Indices

pytestmark = [pytest.mark.integration, pytest.mark.heavy]

COMPARED = ("title", "text", "published_at", "countries", "regions", "orgs", "people", "finance_kinds", "lenders",
            "recipients", "finance_usd_max", "canonical_url", "extraction_version")


def _docs(es, settings) -> dict:
    ix = Indices(settings)
    es.indices.refresh(index=ix.stories)
    hits = es.search(index=ix.stories, size=50)["hits"]["hits"]
    return {h["_id"]: {k: h["_source"].get(k) for k in COMPARED} | {
        "finance": [(m["amount"], m["currency"], m["kind"]) for m in h["_source"]["finance"]]} for h in hits}


def test_flink_runner_indexes_the_same_documents_as_the_direct_runner(es_settings, es_client, feeds_file,
                                                                     prefect_harness, tmp_path, fault_report):
    import time
    import uuid

    from newswatch.flows.ingest import ingest_flow

    path = feeds_file("central-asia.rss.xml", "asia-world.atom.xml")
    results = {}
    for runner in ("DirectRunner", "FlinkRunner"):
        s = es_settings.with_(index_prefix=f"nwflink-{uuid.uuid4().hex[:6]}", allow_loopback=True,
                              home=tmp_path / runner, fetch_timeout=5.0)
        t = time.monotonic()
        summary = ingest_flow(path, beam_args=[f"--runner={runner}"], overrides=s.public())
        results[runner] = (summary, _docs(es_client, s), time.monotonic() - t)
        names = list(es_client.indices.get(index=f"{s.index_prefix}-*"))
        es_client.indices.delete(index=",".join(names))
        es_client.indices.delete_index_template(name=f"{s.index_prefix}-stories")
    direct, flink = results["DirectRunner"], results["FlinkRunner"]
    assert flink[0]["runner"] == "FlinkRunner"
    assert len(flink[1]) == 7 and flink[1] == direct[1]
    assert flink[0]["counts"]["indexed"] == 7 and flink[0]["counts"]["failed"] == 2
    fault_report("(not a fault) FlinkRunner vs DirectRunner", injected=0, survived=7, lost=0,
                 note=f"same 7 documents; Flink run {flink[2]:.0f}s, direct {direct[2]:.0f}s")
