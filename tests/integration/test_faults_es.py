"""Fault injection on the storage side: Elasticsearch lost mid-run, bulk items rejected."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from newswatch.connectors.es import Indices

pytestmark = pytest.mark.integration


def _stories(es, ix: Indices) -> list[dict]:
    es.indices.refresh(index=ix.stories)
    return [h["_source"] for h in es.search(index=ix.stories, size=100)["hits"]["hits"]]


@pytest.mark.heavy
def test_es_lost_between_bulk_batches_loses_nothing(settings, feeds_file, prefect_harness, es_client, gold,
                                                    fault_report):
    from servers import TCPProxy

    from newswatch.flows.ingest import ingest_flow

    host, port = urlsplit(settings.es_url).hostname, urlsplit(settings.es_url).port
    proxy = TCPProxy(host, port)
    try:
        s = settings.with_(es_url=proxy.url, es_bulk_size=2, es_timeout=5.0)
        path = feeds_file("central-asia.rss.xml", "asia-world.atom.xml")
        proxy.cut_after_bulk(1)  # the first bulk request goes through, then the cluster "goes away"
        first = ingest_flow(path, overrides=s.public())
        assert proxy.cut.is_set(), "the fault was injected"
        written_before_cut = len(_stories(es_client, Indices(s)))
        assert first["status"] == "completed_with_errors"
        assert first["counts"]["spooled"] >= 1
        assert first["counts"]["indexed"] + first["counts"]["spooled"] == 7
        assert "feed_state" in first["errors"], "the summary says the feed state could not be saved"

        proxy.restore()
        second = ingest_flow(path, overrides=s.public())
        assert second["counts"]["replayed_from_spool"] == first["counts"]["spooled"]
        stories = _stories(es_client, Indices(s))
        files = sorted(urlsplit(x["canonical_url"]).path.rsplit("/", 1)[-1] for x in stories)
        assert files == sorted(gold["articles"]), "every story indexed exactly once after recovery"
        spool_dir = s.home / "spool"
        assert not any(spool_dir.rglob("*.jsonl")), "spool drained"
        lost = 7 - len(stories)
        fault_report("Elasticsearch lost after the first bulk batch", injected=first["counts"]["spooled"],
                     survived=first["counts"]["spooled"] - lost, lost=lost,
                     note=f"{written_before_cut} written before the cut, rest spooled and replayed")
    finally:
        proxy.close()


def test_rejected_bulk_items_are_dead_lettered_not_dropped(settings, feeds_file, prefect_harness, es_client,
                                                           fault_report):
    """A mapping conflict (here: `site` mapped as a number by someone else) rejects items; each is recorded."""
    from newswatch.connectors.es import ensure_indices
    from newswatch.flows.ingest import ingest_flow

    ix = ensure_indices(es_client, settings)
    es_client.indices.delete(index=f"{ix.stories}-000001")
    es_client.indices.put_index_template(name=f"{settings.index_prefix}-conflict", index_patterns=[f"{ix.stories}-*"],
                                         priority=500, template={"mappings": {"properties": {"site": {"type": "long"}}}})
    es_client.indices.create(index=f"{ix.stories}-000001", aliases={ix.stories: {"is_write_index": True}})
    summary = ingest_flow(feeds_file("asia-world.atom.xml"), overrides=settings.public())
    es_client.indices.refresh(index=ix.errors)
    rejected = [h["_source"] for h in es_client.search(index=ix.errors, query={"term": {"stage": "index"}},
                                                       size=20)["hits"]["hits"]]
    assert summary["counts"]["indexed"] == 0
    assert len(rejected) == 4 == summary["counts"]["failed"]
    assert all("mapper_parsing_exception" in r["error_type"] or "document_parsing" in r["error_type"]
               for r in rejected), rejected
    assert all(r["story_id"] and r["url"] for r in rejected)
    fault_report("bulk items rejected (mapping conflict)", injected=4, survived=4, lost=0,
                 note="each rejection is an error record with its reason")
