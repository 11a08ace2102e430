"""Rollover and mapping migration on the real server (core APIs only)."""
from __future__ import annotations

import pytest

from newswatch.connectors.es import Indices, bulk_write
from newswatch.maintenance import backing_indices, migrate, rollover

pytestmark = pytest.mark.integration


def _doc(i: int, **extra) -> dict:
    return {"_id": f"s{i}", "id": f"s{i}", "url": f"http://x/{i}", "canonical_url": f"http://x/{i}", "feeds": [],
            "title": f"story {i}", "text": "text", "fetched_at": "2024-01-01T00:00:00Z",
            "extraction_version": "t", **extra}


def test_rollover_moves_writes_and_old_data_can_be_dropped(settings, es_client):
    from newswatch.connectors.es import ensure_indices

    ix = ensure_indices(es_client, settings)
    bulk_write(es_client, ix.stories, [_doc(1), _doc(2)])
    result = rollover(es_client, settings)
    assert result["rolled_over"] and result["old_index"] == f"{ix.stories}-000001"
    assert result["new_index"].startswith(f"{ix.stories}-20")
    bulk_write(es_client, ix.stories, [_doc(3)])
    es_client.indices.refresh(index=ix.stories)
    assert es_client.count(index=ix.stories)["count"] == 3
    assert backing_indices(es_client, ix)[result["new_index"]] is True
    es_client.indices.delete(index=result["old_index"])  # drop old data without touching new
    es_client.indices.refresh(index=ix.stories)
    assert [h["_id"] for h in es_client.search(index=ix.stories)["hits"]["hits"]] == ["s3"]


def test_migrate_copies_into_the_current_mapping_and_swaps_the_alias(settings, es_client):
    ix = Indices(settings)
    # an "old" index written before the story-level finance fields existed
    old = f"{ix.stories}-000001"
    es_client.indices.create(index=old, aliases={ix.stories: {"is_write_index": True}},
                             mappings={"dynamic": True, "properties": {"finance": {"type": "nested"}}})
    finance = [{"text": "$5 million", "amount": 5e6, "currency": "USD", "usd": 5e6, "approx": False, "kind": "loan",
                "lender": "adb", "recipient": "KG", "sentence": "s", "start": 0, "end": 1}]
    bulk_write(es_client, ix.stories, [_doc(i, finance=finance, legacy_field="x") for i in range(5)])
    es_client.indices.refresh(index=ix.stories)
    result = migrate(es_client, settings, delete_old=True)
    assert result["copied"] == 5 and result["old_indices"] == [old]
    assert not es_client.indices.exists(index=old)
    assert list(backing_indices(es_client, ix)) == [result["new_index"]]
    mapping = es_client.indices.get_mapping(index=result["new_index"])[result["new_index"]]["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["properties"]["recipients"]["type"] == "keyword"
    hits = es_client.search(index=ix.stories, query={"term": {"recipients": "KG"}})["hits"]["hits"]
    assert len(hits) == 5 and "legacy_field" not in hits[0]["_source"]
    assert hits[0]["_source"]["finance_kinds"] == ["loan"] and hits[0]["_source"]["finance_usd_total"] == 5e6


def test_prune_deletes_old_rollover_indices_with_a_dry_run_first(settings, es_client):
    import os
    import subprocess
    import sys

    from newswatch.connectors.es import ensure_indices
    from newswatch.maintenance import prune

    ix = ensure_indices(es_client, settings)
    first = f"{ix.stories}-000001"
    bulk_write(es_client, ix.stories, [_doc(1, ingested_at="2023-03-01T00:00:00Z")])  # two years and more ago
    second = rollover(es_client, settings)["new_index"]
    bulk_write(es_client, ix.stories, [_doc(2, ingested_at="2099-01-01T00:00:00Z")])  # recent
    third = rollover(es_client, settings)["new_index"]  # the write index: never pruned, even while empty
    es_client.indices.refresh(index=ix.stories)
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix)
    dry = subprocess.run([sys.executable, "-m", "newswatch.cli", "es", "prune", "--older-than", "365d", "--dry-run"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert f"would delete {first}" in dry.stdout and "1 index with no story ingested since" in dry.stdout
    assert "nothing deleted (dry run)" in dry.stdout
    assert f"kept {third} (the write index)" in dry.stdout and f"kept {second}" in dry.stdout
    assert es_client.indices.exists(index=first)
    result = prune(es_client, settings, "365d")
    assert result["deleted"] == [first] and not es_client.indices.exists(index=first)
    assert set(backing_indices(es_client, ix)) == {second, third}
    assert es_client.count(index=ix.stories)["count"] == 1
    assert prune(es_client, settings, "365d")["deleted"] == []
    bad = subprocess.run([sys.executable, "-m", "newswatch.cli", "es", "prune", "--older-than", "a year"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error" in bad.stdout and "Traceback" not in bad.stderr


def test_migrate_gives_old_stories_readable_lenders_and_deal_totals(settings, es_client):
    ix = Indices(settings)
    old = f"{ix.stories}-000001"
    es_client.indices.create(index=old, aliases={ix.stories: {"is_write_index": True}},
                             mappings={"dynamic": True, "properties": {"finance": {"type": "nested"}}})
    finance = [{"text": "3 billion yuan", "amount": 3e9, "currency": "CNY", "usd": 4.2e8, "approx": False,
                "kind": "loan", "lender": "cdb", "recipient": "TM", "sentence": "s", "start": 0, "end": 1},
               {"text": "$40 billion", "amount": 4e10, "currency": "USD", "usd": 4e10, "approx": False,
                "kind": "trade", "sentence": "s", "start": 2, "end": 3}]
    bulk_write(es_client, ix.stories, [_doc(1, finance=finance)])
    es_client.indices.refresh(index=ix.stories)
    migrate(es_client, settings, delete_old=True)
    (hit,) = es_client.search(index=ix.stories, query={"match_all": {}})["hits"]["hits"]
    doc = hit["_source"]
    assert doc["deal_usd_total"] == 4.2e8 and doc["deal_kinds"] == ["loan"] and doc["lender_countries"] == ["CN"]
    assert doc["finance"][0]["lender_name"] == "China Development Bank" and doc["finance"][0]["lender_country"] == "CN"
    assert doc["finance"][0]["recipient_location"]["lat"] == pytest.approx(37.95, abs=0.01)  # Ashgabat


def test_fields_the_schema_gained_are_added_to_an_existing_index(settings, es_client):
    """A stories index created before the schema gained a field (strict mapping) takes documents with it after
    the next run's ensure_indices."""
    from newswatch.connectors.es import ensure_indices
    from newswatch.schemas.mapping import stories_template

    ix = Indices(settings)
    old = stories_template(ix.prefix)["template"]["mappings"]
    old = {**old, "properties": {k: v for k, v in old["properties"].items() if k != "captions"}}
    old["properties"]["finance"] = {**old["properties"]["finance"], "properties": {
        k: v for k, v in old["properties"]["finance"]["properties"].items() if k != "aggregate"}}
    es_client.indices.create(index=f"{ix.stories}-000001", mappings=old, aliases={ix.stories: {"is_write_index": True}})
    with pytest.raises(Exception, match="strict_dynamic_mapping|mapping set to strict"):
        es_client.index(index=ix.stories, id="c0", document=_source(0, captions=["A caption."]))
    ensure_indices(es_client, settings)
    es_client.index(index=ix.stories, id="c1", document=_source(1, captions=["A caption."]), refresh=True)
    assert es_client.get(index=ix.stories, id="c1")["_source"]["captions"] == ["A caption."]
    mapping = es_client.indices.get_mapping(index=ix.stories)[f"{ix.stories}-000001"]["mappings"]["properties"]
    assert mapping["finance"]["properties"]["aggregate"]["type"] == "boolean"


def _source(i: int, **extra) -> dict:
    doc = _doc(i, **extra)
    doc.pop("_id")
    return doc
