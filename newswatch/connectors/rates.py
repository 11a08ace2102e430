"""The Central Bank of Russia's official daily exchange rates (``XML_daily.asp?date_req=DD/MM/YYYY``), fetched
into the on-disk cache that :mod:`newswatch.extraction.usd` reads: one JSON file per date, fetched once.

Polite and bounded: at most ``rates_max_dates`` documents per call, newest first, one at a time with
``rates_delay`` seconds between them, through the project's fetcher (address guard, size and time limits); the
first network failure stops the call and the source is left alone for :data:`UNREACHABLE_BACKOFF`; a date
whose document was refused or unreadable is tried again after :data:`FAILED_BACKOFF`.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from ..extraction.usd import cbr_file
from ..settings import Settings
from .http import FEED_TYPES, FetchError, Fetcher

log = logging.getLogger(__name__)
UNREACHABLE_BACKOFF = timedelta(minutes=15)
FAILED_BACKOFF = timedelta(hours=6)
PROVISIONAL_REFETCH = timedelta(hours=6)  # today's document before the day's rates are set
FIRST_CBR_DATE = date(1992, 7, 1)
MAX_DOCUMENT_BYTES = 512 * 1024


class RatesError(ValueError):
    """A document that is not a CBR rates document."""


def _number(text: str | None) -> float:
    return float((text or "").strip().replace("\xa0", "").replace(" ", "").replace(",", "."))


def parse_cbr(body: bytes) -> tuple[date, dict[str, float]]:
    """(the date the rates are set for, {currency: RUB per unit}) of one ``XML_daily.asp`` document."""
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise RatesError(f"not well-formed XML: {exc}") from None
    if root.tag != "ValCurs":
        raise RatesError(f"not a CBR rates document (root element <{root.tag}>)")
    try:
        effective = datetime.strptime(root.get("Date") or "", "%d.%m.%Y").date()
    except ValueError:
        raise RatesError(f"CBR document without a valid Date attribute: {root.get('Date')!r}") from None
    rates: dict[str, float] = {}
    for v in root.findall("Valute"):
        code = (v.findtext("CharCode") or "").strip().upper()
        try:
            per_unit = _number(v.findtext("Value")) / _number(v.findtext("Nominal") or "1")
        except (ValueError, ZeroDivisionError):
            continue  # one unreadable row does not spoil the others
        if len(code) == 3 and per_unit > 0:
            rates[code] = per_unit
    if "USD" not in rates:
        raise RatesError("CBR document without a USD rate")
    return effective, rates


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)
    cached: int = 0
    skipped: list[str] = field(default_factory=list)  # over the per-call bound, or in a back-off
    failed: dict[str, str] = field(default_factory=dict)
    unreachable: str | None = None

    def as_dict(self) -> dict:
        return {"source": "CBR", "fetched": self.fetched, "already_cached": self.cached, "skipped": self.skipped,
                "failed": self.failed, "unreachable": self.unreachable}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
    os.replace(tmp, path)  # a reader sees the old file or the whole new one


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _recent(stamp: str | None, within: timedelta, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(stamp) < within
    except (TypeError, ValueError):
        return False


class CbrRates:
    """Fetches CBR documents into ``settings.effective_rates_dir``."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None):
        self.settings = settings
        self.url = settings.rates_url
        self.root = Path(settings.effective_rates_dir)
        self.fetcher = fetcher or Fetcher(settings)

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def _state_path(self) -> Path:
        return self.root / "cbr" / "_source.json"

    def _failed_path(self, day: date) -> Path:
        return self.root / "cbr" / f"{day.isoformat()}.failed.json"

    def needs(self, day: date, now: datetime) -> bool:
        doc = _read_json(cbr_file(self.root, day))
        if doc is not None and "USD" in (doc.get("rates") or {}):
            return not doc.get("final", True) and not _recent(doc.get("fetched_at"), PROVISIONAL_REFETCH, now)
        failed = _read_json(self._failed_path(day))
        return not (failed and _recent(failed.get("at"), FAILED_BACKOFF, now))

    def fetch_day(self, day: date) -> dict:
        """Fetch, check and store the document of ``day``; raises FetchError (network) or RatesError."""
        url = f"{self.url}{'&' if '?' in self.url else '?'}date_req={day:%d/%m/%Y}"
        resp = self.fetcher.get(url, accept_types=FEED_TYPES, max_bytes=MAX_DOCUMENT_BYTES)
        effective, rates = parse_cbr(resp.body)
        now = datetime.now(timezone.utc)
        # the document of a past date never changes; today's may still be yesterday's until the day's rates are set
        final = effective == day or day < now.date()
        doc = {"source": "CBR", "url": url, "requested": day.isoformat(), "date": effective.isoformat(),
               "rates": rates, "final": final, "fetched_at": now.isoformat()}
        _write_json(cbr_file(self.root, day), doc)
        self._failed_path(day).unlink(missing_ok=True)
        return doc

    def ensure(self, days, *, max_dates: int | None = None) -> FetchReport:
        """Fetch the documents of ``days`` not on disk yet (newest first, bounded); never raises."""
        report = FetchReport()
        if not self.enabled:
            report.unreachable = "rate fetching is off (NEWSWATCH_RATES_URL)"
            return report
        now = datetime.now(timezone.utc)
        today = now.date()
        wanted = sorted({d for d in days if d is not None and FIRST_CBR_DATE <= d <= today}, reverse=True)
        todo = [d for d in wanted if self.needs(d, now)]
        report.cached = len(wanted) - len(todo)
        if not todo:
            return report
        state = _read_json(self._state_path()) or {}
        if _recent(state.get("unreachable_at"), UNREACHABLE_BACKOFF, now):
            report.unreachable = f"{state.get('reason')} (not tried again before " \
                                 f"{datetime.fromisoformat(state['unreachable_at']) + UNREACHABLE_BACKOFF:%H:%M} UTC)"
            report.skipped = [d.isoformat() for d in todo]
            return report
        bound = self.settings.rates_max_dates if max_dates is None else max_dates
        report.skipped = [d.isoformat() for d in todo[bound:]]
        for i, day in enumerate(todo[:bound]):
            if i:
                time.sleep(self.settings.rates_delay)
            try:
                self.fetch_day(day)
                report.fetched.append(day.isoformat())
            except FetchError as exc:
                if exc.kind == "http_error" and exc.status and exc.status < 500 and exc.status != 429:
                    report.failed[day.isoformat()] = exc.reason  # this date refused; the source answers
                    _write_json(self._failed_path(day), {"at": now.isoformat(), "reason": exc.reason})
                    continue
                report.unreachable = f"{self.url}: {exc.reason}"
                report.skipped += [d.isoformat() for d in todo[i:bound]]
                _write_json(self._state_path(), {"unreachable_at": now.isoformat(), "reason": report.unreachable})
                break
            except RatesError as exc:
                report.failed[day.isoformat()] = str(exc)
                _write_json(self._failed_path(day), {"at": now.isoformat(), "reason": str(exc)})
        if report.fetched and state:
            self._state_path().unlink(missing_ok=True)
        return report


def _entry_day(value) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def prefetch_for_entries(settings: Settings, entries: list[dict]) -> dict:
    """Before the pipeline: the documents of the days the new stories were published (as their feeds say; today
    for an entry without a date), so that extraction finds the rates. Never raises: the summary says what
    happened."""
    today = datetime.now(timezone.utc).date()
    days = {_entry_day(e.get("published_at")) or today for e in entries}
    try:
        return CbrRates(settings).ensure(days).as_dict()
    except Exception as exc:  # noqa: BLE001 - rates are an extra: the run goes on without them
        log.warning("exchange rates not fetched: %s", exc)
        return {"source": "CBR", "error": f"{type(exc).__name__}: {exc}"}


def waiting_for_rates(es, index: str, story_ids: list[str]) -> dict[str, str]:
    """Stories among ``story_ids`` with a mention whose rate was not yet available -> their publication time."""
    if not story_ids:
        return {}
    query = {"bool": {"filter": [{"ids": {"values": story_ids}}, {"nested": {"path": "finance", "query": {
        "prefix": {"finance.usd_note": "rate not yet available"}}}}]}}
    resp = es.search(index=index, query=query, source=["published_at"], size=len(story_ids))
    return {h["_id"]: h["_source"].get("published_at") for h in resp["hits"]["hits"]}


def fetch_missing(settings: Settings, es, story_ids: list[str]) -> dict:
    """After the pipeline: the documents still missing for the run's stories (their page gave another date than
    the feed), so that ``newswatch es reenrich`` finds them. Never raises."""
    try:
        waiting = waiting_for_rates(es, settings.index("stories"), story_ids)
        if not waiting:
            return {"stories_waiting": 0}
        report = CbrRates(settings).ensure({_entry_day(v) for v in waiting.values()}).as_dict()
        return {"stories_waiting": len(waiting), **report}
    except Exception as exc:  # noqa: BLE001 - rates are an extra: the run goes on without them
        log.warning("exchange rates not fetched: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"}
