"""`newswatch export deals`: one row per deal (see :mod:`newswatch.schemas.deals`) as CSV, JSON lines or Parquet."""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Iterator

from elasticsearch import Elasticsearch, helpers

from .formatting import clean_link, outlet
from .schemas.deals import has_deal, is_deal
from .search import deal_clauses, parse_since

FORMATS = ("csv", "jsonl", "parquet")
# (column, pyarrow type name): the file's columns, in order
COLUMNS = (("published", "string"), ("outlet", "string"), ("title", "string"), ("url", "string"),
           ("amount", "float64"), ("amount_max", "float64"), ("currency", "string"), ("usd", "float64"),
           ("usd_note", "string"), ("approx", "bool_"), ("kind", "string"), ("lender", "string"),
           ("lender_name", "string"), ("lender_country", "string"), ("recipient", "string"), ("sentence", "string"),
           ("story_id", "string"))


def deal_rows(es: Elasticsearch, index: str, *, since: str | None = None, countries=None,
              kinds=None) -> Iterator[dict]:
    """Every deal of the stored stories, oldest story first; ``countries``: recipients, ``kinds``: deal kinds."""
    clauses = deal_clauses(kinds=kinds, recipients=countries)
    filters = [has_deal(*clauses)]
    if since:
        filters.append({"range": {"published_at": {"gte": parse_since(since).isoformat()}}})
    query = {"query": {"bool": {"filter": filters}}, "sort": [{"published_at": {"order": "asc", "missing": "_last"}}]}
    kind_set = {k.lower() for k in kinds or ()}
    country_set = {c.upper() for c in countries or ()}
    for hit in helpers.scan(es, index=index, query=query, preserve_order=True, size=500,
                            source_excludes=["text", "entities"]):
        s = hit["_source"]
        for m in s.get("finance") or []:
            if not is_deal(m) or (kind_set and m["kind"] not in kind_set) or \
                    (country_set and m.get("recipient") not in country_set):
                continue
            yield {"published": s.get("published_at"), "outlet": outlet(s), "title": s.get("title"),
                   "url": clean_link(s.get("url")), "amount": m["amount"], "amount_max": m.get("amount_max"),
                   "currency": m["currency"], "usd": m.get("usd"), "usd_note": m.get("usd_note"),
                   "approx": bool(m.get("approx")), "kind": m["kind"], "lender": m.get("lender"),
                   "lender_name": m.get("lender_name"), "lender_country": m.get("lender_country"),
                   "recipient": m.get("recipient"), "sentence": m.get("sentence"), "story_id": hit["_id"]}


def write(rows, fmt: str, out: str | None) -> int:
    """Write ``rows`` to ``out`` (a path; None: standard output, not for parquet); returns the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    names = [c for c, _ in COLUMNS]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not out:
            raise ValueError("parquet is binary: give --out FILE")
        rows = list(rows)
        schema = pa.schema([(c, getattr(pa, t)()) for c, t in COLUMNS])
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, out)
        return len(rows)
    fh = open(out, "w", encoding="utf-8", newline="") if out else io.TextIOWrapper(
        sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
    n = 0
    try:
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                n += 1
        else:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    finally:
        if out:
            fh.close()
        else:
            fh.flush()
            fh.detach()
    return n


def export_deals(es: Elasticsearch, index: str, fmt: str, out: str | Path | None = None, **filters) -> int:
    return write(deal_rows(es, index, **filters), fmt, str(out) if out else None)
