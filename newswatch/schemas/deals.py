"""What counts as a deal: one definition for the story builder, Kibana, search, export and the digest.

A deal is a finance mention of a flow of money (loan, grant, aid, investment, financing) that is neither an
equivalent of another mention ("8 billion yuan (about $1.1 billion)"), nor a repeat of an earlier figure, nor a
total that the story's other flows are part of ("the project's total cost is $3 billion"). Debt
stocks, trade, market figures and reserves are background figures, kept apart.
"""
from __future__ import annotations

from typing import Iterable

DEAL_KINDS = ("loan", "grant", "aid", "investment", "financing")
BACKGROUND_KINDS = ("debt", "trade", "market", "reserves")


def _get(m, key):
    return m.get(key) if isinstance(m, dict) else getattr(m, key)


def is_deal(m) -> bool:
    """``m``: a FinanceMention or its stored dict."""
    return (_get(m, "kind") in DEAL_KINDS and _get(m, "equivalent_of") is None and _get(m, "repeat_of") is None
            and not (m.get("aggregate") if isinstance(m, dict) else m.aggregate))


def deals(finance: Iterable) -> list:
    return [m for m in finance if is_deal(m)]


def largest_deal(finance: Iterable):
    """The deal with the largest USD value (one without a USD value only when none has one)."""
    found = deals(finance)
    return max(found, key=lambda m: (_get(m, "usd") is not None, _get(m, "usd") or 0), default=None)


def deal_usd_total(finance: Iterable) -> float | None:
    usd = [_get(m, "usd") for m in deals(finance) if _get(m, "usd") is not None]
    return round(sum(usd), 2) if usd else None


def deal_query(path: str = "finance", *extra: dict) -> dict:
    """The deals of the nested ``finance`` field as an Elasticsearch filter on the nested documents (use inside
    a ``nested`` query or below a ``nested`` aggregation); ``extra`` clauses must hold for the same mention."""
    return {"bool": {"filter": [{"terms": {f"{path}.kind": list(DEAL_KINDS)}}, *extra],
                     "must_not": [{"exists": {"field": f"{path}.equivalent_of"}},
                                  {"exists": {"field": f"{path}.repeat_of"}},
                                  {"term": {f"{path}.aggregate": True}}]}}


def has_deal(*extra: dict, path: str = "finance") -> dict:
    """Stories with at least one deal for which ``extra`` holds (a query on the stories)."""
    return {"nested": {"path": path, "query": deal_query(path, *extra)}}
