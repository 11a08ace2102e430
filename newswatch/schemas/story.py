"""The story document: one source of truth for the pipeline, the ES mapping, Kibana and alert rules.

Every field may carry an ``es`` entry in ``json_schema_extra`` that overrides the mapping derived from its
Python type (see :mod:`newswatch.schemas.mapping`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, Field

EntityType = Literal["country", "historic_state", "region", "org", "person"]
FinanceKind = Literal[
    "loan", "grant", "aid", "investment", "financing", "trade", "debt", "reserves", "market", "other"
]


def _es(**mapping) -> dict:
    return {"es": mapping}


# text fields that also get a sub-field per language analyzer the cluster has (``title.ru``, ``text.ru``: Russian
# stemming); the standard analyzer of the field itself tokenises every script
LANGUAGE_SUBFIELDS = {"ru": "russian"}


class Entity(BaseModel):
    """A geopolitical entity found in a story (country, region, organisation, person...)."""

    type: EntityType
    id: str = Field(description="ISO 3166-1 alpha-2 for countries, Wikidata QID or a stable slug otherwise")
    name: str = Field(description="canonical name")
    wikidata: Optional[str] = Field(default=None, description="Wikidata QID when the gazetteer knows it")
    surface_forms: list[str] = Field(default_factory=list)
    count: int = 1
    start: int = Field(default=0, description="character offset of the first mention (in title + '\\n\\n' + text)")
    end: int = 0


class GeoPoint(BaseModel):
    """A point on the map (Elasticsearch ``geo_point``)."""

    lat: float
    lon: float


class FinanceMention(BaseModel):
    """A money amount found in a story, normalised."""

    text: str = Field(description="the surface form, e.g. 'about $9 billion'")
    amount: float = Field(description="amount in units of the currency (lower bound for ranges)")
    amount_max: Optional[float] = Field(default=None, description="upper bound when the text gives a range")
    currency: str = Field(description="ISO 4217 code")
    usd: Optional[float] = Field(default=None, description="USD value at the publication date (ECB rates)")
    usd_note: Optional[str] = Field(default=None, description="why usd is missing or approximate")
    approx: bool = False
    kind: FinanceKind = "other"
    lender: Optional[str] = Field(default=None, description="country code or entity id of the source of funds")
    lender_name: Optional[str] = Field(default=None, description="readable name of the lender ('Export-Import "
                                       "Bank of China', 'China', 'World Bank')")
    lender_country: Optional[str] = Field(default=None, description="ISO code of the lender's state (none for "
                                          "multilateral lenders)")
    recipient: Optional[str] = Field(default=None, description="country code of the recipient")
    recipient_location: Optional[GeoPoint] = Field(default=None, json_schema_extra=_es(type="geo_point"),
                                                   description="the recipient country on a map (its capital)")
    equivalent_of: Optional[int] = Field(default=None, description="index (in the story's finance list) of the "
                                         "mention this one converts, e.g. '(about $1.1 billion)'")
    repeat_of: Optional[int] = Field(default=None, description="index of an earlier mention of the same figure")
    aggregate: bool = Field(default=False, description="a total that other flows of the story are part of (a "
                            "project's cost, a package's total): counted through its parts, not as a deal")
    sentence: str = Field(default="", json_schema_extra=_es(type="text"))
    start: int = 0
    end: int = 0


class Story(BaseModel):
    """One news story as stored in Elasticsearch (document id = ``id``)."""

    id: str = Field(description="stable hash of canonical_url")
    url: str = Field(description="URL as fetched (after redirects)")
    canonical_url: str
    feeds: list[str] = Field(default_factory=list, description="URLs of the feeds that listed the story")
    site: Optional[str] = None
    source_name: Optional[str] = Field(default=None, description="the outlet: the feed's name (feeds file), else "
                                       "the feed's title, else the page's site name")
    source_tags: list[str] = Field(default_factory=list, description="tags of the feeds that listed the story")
    title: Optional[str] = Field(
        default=None, json_schema_extra={**_es(type="text", fields={"keyword": {"type": "keyword", "ignore_above": 512}}),
                                         "languages": True}
    )
    text: str = Field(default="", json_schema_extra={**_es(type="text"), "languages": True})
    captions: list[str] = Field(default_factory=list, json_schema_extra={**_es(type="text"), "languages": True},
                                description="captions of the story's own figures (offsets of entities and money "
                                "run on past the text into them, one line each)")
    author: Optional[str] = None
    lang: Optional[str] = Field(default=None, description="ISO 639-1 language of the story (page, feed or detected)")
    published_at: Optional[datetime] = Field(default=None, description="publication time with the time zone "
                                             "the page or feed gives (midnight UTC when only a date is known)")
    fetched_at: datetime
    ingested_at: Optional[datetime] = None
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes")
    regions: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list, description="organisation ids")
    people: list[str] = Field(default_factory=list, description="person ids")
    entities: list[Entity] = Field(default_factory=list, json_schema_extra=_es(type="nested"))
    finance: list[FinanceMention] = Field(default_factory=list, json_schema_extra=_es(type="nested"))
    # story-level copies of the nested finance data, for Lucene searches and Kibana aggregations
    finance_kinds: list[str] = Field(default_factory=list, description="kinds of the finance mentions")
    lenders: list[str] = Field(default_factory=list, description="lenders of the finance mentions")
    lender_countries: list[str] = Field(default_factory=list, description="states of the lenders of the mentions")
    recipients: list[str] = Field(default_factory=list, description="recipients of the finance mentions")
    finance_usd_max: Optional[float] = Field(default=None, description="largest USD value among finance mentions")
    finance_usd_total: Optional[float] = Field(default=None, description="sum of the USD values of the mentions")
    deal_usd_total: Optional[float] = Field(default=None, description="USD of the story's distinct deals (see "
                                            "newswatch.schemas.deals), each counted once")
    deal_kinds: list[str] = Field(default_factory=list, description="kinds of the story's distinct deals")
    ner: Literal["corenlp", "natasha", "rules"] = Field(
        default="rules", description="which recogniser found the names: natasha for Russian, CoreNLP for the rest; "
                                     "'rules' also when the NER service was down (reenrich fixes it)")
    extraction_version: str
    # syndicated copies: the same story on several outlets is one cluster (newswatch.clustering)
    cluster_id: Optional[str] = Field(default=None, description="id of the cluster's first story (its lead); "
                                                               "a story alone is its own cluster")
    cluster_size: int = Field(default=1, description="stories in the cluster (copies of the same story)")
    cluster_lead: bool = Field(default=True, description="true on one story per cluster: count clusters, "
                                                         "sum deals, once")
    cluster_sites: list[str] = Field(default_factory=list, description="outlets carrying the cluster's story")
    cluster_urls: list[str] = Field(default_factory=list, json_schema_extra=_es(type="keyword", ignore_above=4096),
                                    description="URLs of the cluster's stories")
    minhash: Optional[str] = Field(default=None, json_schema_extra=_es(type="keyword", index=False, doc_values=False),
                                   description="MinHash signature of the text (newswatch.extraction.neardup)")
    lsh_bands: list[str] = Field(default_factory=list, description="LSH band keys of the signature")


class ExtractionResult(BaseModel):
    """What :func:`newswatch.extraction.extract` returns for one story."""

    ner: str = Field(default="rules", description="the recogniser that found the names")
    ner_error: Optional[str] = Field(default=None, description="why the configured recogniser did not run")
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    finance: list[FinanceMention] = Field(default_factory=list)
