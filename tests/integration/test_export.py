"""`newswatch export deals` over the analyst corpus on the real server: the files read back hold one row per deal."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from newswatch.schemas.deals import is_deal

pytestmark = pytest.mark.integration


def _export(s, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, ES_URL=s.es_url, NEWSWATCH_INDEX_PREFIX=s.index_prefix)
    return subprocess.run([sys.executable, "-m", "newswatch.cli", "export", "deals", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _expected(es, s, *, kinds=None, countries=None) -> list[tuple]:
    hits = es.search(index=s.index("stories"), query={"match_all": {}}, size=200)["hits"]["hits"]
    return sorted((h["_id"], m["text"], m["kind"], m.get("recipient") or "") for h in hits for m in h["_source"]["finance"]
                  if is_deal(m) and (not kinds or m["kind"] in kinds) and (not countries or m.get("recipient") in countries))


def test_csv_jsonl_and_parquet_hold_the_same_deals(analyst_corpus, es_client, tmp_path):
    import pyarrow.parquet as pq

    s = analyst_corpus
    expected = _expected(es_client, s)
    rows = {}
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"deals.{fmt}"
        done = _export(s, "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"{len(expected)} deals written" in done.stdout
        if fmt == "csv":
            with open(out, encoding="utf-8", newline="") as fh:
                rows[fmt] = list(csv.DictReader(fh))
        elif fmt == "jsonl":
            rows[fmt] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        else:
            table = pq.read_table(out)
            assert str(table.schema.field("usd").type) == "double" and str(table.schema.field("approx").type) == "bool"
            rows[fmt] = table.to_pylist()
    for fmt, got in rows.items():
        assert len(got) == len(expected), fmt
        assert sorted((r["story_id"], r["kind"], r["recipient"] or "") for r in got) == \
            sorted((sid, kind, rec) for sid, _t, kind, rec in expected), fmt
    # the same values in every format (CSV writes them as text)
    for j, p, c in zip(rows["jsonl"], rows["parquet"], rows["csv"]):
        assert j == p
        assert c["title"] == j["title"] and c["outlet"] == j["outlet"] and float(c["amount"]) == j["amount"]
        assert (c["usd"] or None) == (None if j["usd"] is None else repr(j["usd"]))
    loan = next(r for r in rows["jsonl"] if r["lender"] == "world-bank" and r["kind"] == "loan")
    assert loan["lender_name"] == "World Bank" and loan["recipient"] == "KG" and loan["usd"] == 250e6
    assert loan["outlet"] == "Central Asia sample wire (fictional)" and "utm_" not in loan["url"]
    assert loan["published"].startswith("2025-02-18T08:00:00") and "$250 million loan" in loan["sentence"]
    assert {"published", "outlet", "title", "url", "amount", "currency", "usd", "kind", "lender_name",
            "lender_country", "recipient", "sentence"} <= set(rows["csv"][0])
    # no equivalents, repeats or background figures
    assert not any(r["kind"] in ("trade", "market", "debt", "reserves") for r in rows["jsonl"])
    smelter = [r for r in rows["jsonl"] if r["title"].startswith("Chinese group to invest")]
    assert 1.1e9 not in {r["amount"] for r in smelter if r["currency"] == "USD"}  # "(about $1.1 billion)"


def test_filters_and_stdout(analyst_corpus, es_client):
    s = analyst_corpus
    done = _export(s, "--format", "jsonl", "--kind", "loan", "--country", "kg", "--country", "TM")
    assert done.returncode == 0, done.stderr[-2000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted((r["story_id"], r["kind"], r["recipient"]) for r in got) == \
        sorted((sid, kind, rec) for sid, _t, kind, rec in _expected(es_client, s, kinds={"loan"},
                                                                    countries={"KG", "TM"}))
    assert {r["recipient"] for r in got} == {"KG", "TM"} and {r["kind"] for r in got} == {"loan"}
    assert _export(s, "--since", "7d").stdout.splitlines() == ["published,outlet,title,url,amount,amount_max,currency,"
                                                               "usd,usd_note,approx,kind,lender,lender_name,"
                                                               "lender_country,recipient,sentence,story_id"]
    since = _export(s, "--format", "jsonl", "--since", "2025-01-01")
    assert {json.loads(x)["published"][:4] for x in since.stdout.splitlines()} == {"2025"}
    bad = _export(s, "--format", "parquet")
    assert bad.returncode == 2 and "--out" in bad.stdout and "Traceback" not in bad.stderr
