"""Elasticsearch mappings and index templates derived from the pydantic models.

Only core field types and the standard analyzer are used, so the same template works on the minimal
``integ-test-zip`` distribution (no analysis-common, no mapper-extras) and on a full cluster; where the cluster
has a language analyzer (``russian``: a full distribution), the fields marked ``languages`` in the schema also
get a stemmed sub-field (``text.ru``), so «кредиты» finds «кредита».
"""
from __future__ import annotations

import types
import typing
from datetime import date, datetime

from pydantic import BaseModel

from .story import LANGUAGE_SUBFIELDS, Story

_SCALARS = {
    str: {"type": "keyword", "ignore_above": 2048},
    bool: {"type": "boolean"},
    int: {"type": "long"},
    float: {"type": "double"},
    datetime: {"type": "date"},
    date: {"type": "date"},
}


def _unwrap(annotation):
    """Strip Optional[...] / list[...] / Literal[...] down to the element type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0])
    if origin in (list, tuple, set, frozenset):
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return str
    return annotation


def properties_for(model: type[BaseModel], analyzers: frozenset[str] = frozenset()) -> dict:
    """``analyzers``: the language analyzers the cluster has (sub-fields for the fields marked ``languages``)."""
    props: dict = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        override = dict(extra.get("es", {}))
        inner = _unwrap(info.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel) and override.get("type") not in (
                None, "object", "nested"):
            mapping = override  # a model stored as one field of its own type (geo_point)
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            mapping = {"type": override.pop("type", "object"), "properties": properties_for(inner, analyzers)}
            mapping.update(override)
        elif override:
            mapping = override
        else:
            try:
                mapping = dict(_SCALARS[inner])
            except KeyError as exc:  # a new field type must get an explicit mapping
                raise TypeError(f"no ES mapping for {model.__name__}.{name}: {inner!r}") from exc
        if extra.get("languages"):
            subs = {code: {"type": "text", "analyzer": a} for code, a in LANGUAGE_SUBFIELDS.items() if a in analyzers}
            if subs:
                mapping = {**mapping, "fields": {**mapping.get("fields", {}), **subs}}
        props[name] = mapping
    return props


def story_mappings(analyzers: frozenset[str] = frozenset()) -> dict:
    return {"dynamic": "strict", "properties": properties_for(Story, frozenset(analyzers))}


def stories_template(prefix: str, refresh_interval: str = "30s", analyzers: frozenset[str] = frozenset()) -> dict:
    """Composable index template for the stories indices, written through the ``<prefix>-stories`` alias.

    ``refresh_interval``: how often new stories become searchable while a run is writing them. Every run
    refreshes the index once when its pipeline ends (so alerts and analysts then see all of it); in between, a
    refresh every second would turn each second's few hundred stories into a segment of its own, which then
    has to be merged: about half of the node's CPU per story in a run of 2,000 (0.57 instead of 1.1-1.4 ms).
    """
    return {
        "index_patterns": [f"{prefix}-stories-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": refresh_interval},
            "mappings": story_mappings(analyzers),
        },
        "_meta": {"managed_by": "newswatch", "schema": "Story"},
    }


ERRORS_MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "at": {"type": "date"},
        "run_id": {"type": "keyword"},
        "stage": {"type": "keyword"},  # poll | fetch | extract | enrich | index
        "url": {"type": "keyword", "ignore_above": 4096},
        "feed": {"type": "keyword", "ignore_above": 4096},
        "story_id": {"type": "keyword"},
        "error_type": {"type": "keyword"},
        "reason": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
        "http_status": {"type": "integer"},
    },
}

FEEDS_MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "url": {"type": "keyword", "ignore_above": 4096},
        "title": {"type": "text"},
        "etag": {"type": "keyword", "index": False},
        "last_modified": {"type": "keyword", "index": False},
        "last_polled_at": {"type": "date"},
        "last_changed_at": {"type": "date"},
        "last_status": {"type": "keyword"},
        "last_error": {"type": "text"},
        "consecutive_failures": {"type": "integer"},
        "entries_last_seen": {"type": "integer"},
        # feed health (newswatch.connectors.feed_health)
        "status": {"type": "keyword"},  # ok | failing | quarantined
        "next_poll_at": {"type": "date"},
        "last_success_at": {"type": "date"},
        "quarantined_at": {"type": "date"},
    },
}

# a run summary's counters (newswatch.flows.ingest): mapped so that Kibana can chart them per run
RUN_COUNTERS = ("feeds_polled", "feeds_not_modified", "feeds_failed", "entries_seen", "new", "fetched", "extracted",
                "indexed", "failed", "spooled", "replayed_from_spool", "entries_rejected", "feeds_skipped",
                "in_clusters")

RUNS_MAPPINGS = {
    "dynamic": False,
    "properties": {
        "run_id": {"type": "keyword"},
        "started_at": {"type": "date"},
        "finished_at": {"type": "date"},
        "status": {"type": "keyword"},
        "runner": {"type": "keyword"},
        "counts": {"type": "object", "properties": {k: {"type": "integer"} for k in RUN_COUNTERS}},
        "errors": {"type": "object", "enabled": False},
    },
}
