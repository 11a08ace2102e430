"""USD for the region's currencies: the CBR rate connector against a loopback server serving documents in the
CBR's format, the rate cache the extraction reads, and the ingest flow fetching the dates it needs."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from newswatch.connectors.rates import CbrRates, RatesError, parse_cbr
from newswatch.extraction import usd
from servers import CbrServer, cbr_document, cbr_value

pytestmark = pytest.mark.integration


@pytest.fixture()
def cbr():
    with CbrServer() as server:
        yield server


@pytest.fixture()
def rate_settings(tmp_path, cbr):
    from newswatch.settings import Settings

    s = Settings.from_env().with_(home=tmp_path / "home", rates_dir=str(tmp_path / "rates"), rates_url=cbr.url,
                                  allow_loopback=True, rates_delay=0.0, fetch_timeout=3.0, fetch_total_timeout=5.0)
    usd.use_rates_dir(s.effective_rates_dir)
    yield s
    usd.use_rates_dir(None)


def test_parse_a_cbr_document():
    day = date(2025, 4, 1)
    effective, rates = parse_cbr(cbr_document(day))
    assert effective == day and set(rates) >= {"USD", "KZT", "UZS", "KGS", "TJS", "TMT", "AZN"}
    assert rates["KZT"] == pytest.approx(cbr_value("KZT", day))  # per unit: the document gives 100 tenge
    for bad in (b"<html><body>maintenance</body></html>", b"not xml", b'<ValCurs Date="x"></ValCurs>',
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ValCurs Date="01.04.2025"/>'):
        with pytest.raises(RatesError):
            parse_cbr(bad)


def test_each_date_is_fetched_once_newest_first_and_bounded(rate_settings, cbr):
    days = [date(2024, 11, 6) - timedelta(days=i) for i in range(5)]
    rates = CbrRates(rate_settings)
    first = rates.ensure(days, max_dates=3)
    assert first.fetched == [d.isoformat() for d in days[:3]] and first.skipped == [d.isoformat() for d in days[3:]]
    assert cbr.asked() == [f"{d:%d/%m/%Y}" for d in days[:3]]
    again = rates.ensure(days)
    assert again.cached == 3 and again.fetched == [d.isoformat() for d in days[3:]]
    assert len(cbr.requests) == 5  # every date once
    assert rates.ensure(days).fetched == [] and len(cbr.requests) == 5
    stored = json.loads(usd.cbr_file(Path(rate_settings.effective_rates_dir), days[0]).read_text(encoding="utf-8"))
    assert stored["date"] == days[0].isoformat() and stored["final"] is True


def test_requests_are_spaced_politely(rate_settings, cbr):
    rates = CbrRates(rate_settings.with_(rates_delay=0.3))
    rates.ensure([date(2024, 1, 10), date(2024, 1, 11), date(2024, 1, 12)])
    times = [t for _d, t in cbr.requests]
    assert len(times) == 3 and all(b - a >= 0.29 for a, b in zip(times, times[1:]))


def test_an_unreachable_source_stops_the_call_and_is_left_alone_for_a_while(rate_settings, cbr):
    cbr.mode = "500"
    report = CbrRates(rate_settings).ensure([date(2024, 1, 10), date(2024, 1, 11), date(2024, 1, 12)])
    assert report.fetched == [] and "HTTP 500" in report.unreachable and len(report.skipped) == 3
    n = len(cbr.requests)
    assert n == 1  # the first failure stops the call: the other dates are not asked for
    cbr.mode = "ok"
    later = CbrRates(rate_settings).ensure([date(2024, 1, 10)])
    assert later.fetched == [] and "not tried again before" in later.unreachable and len(cbr.requests) == n


def test_a_refused_or_unreadable_date_is_recorded_and_the_others_go_on(rate_settings, cbr):
    cbr.mode = "garbage"
    report = CbrRates(rate_settings).ensure([date(2024, 1, 10), date(2024, 1, 11)])
    assert report.fetched == [] and set(report.failed) == {"2024-01-10", "2024-01-11"}
    assert "root element" in report.failed["2024-01-10"] and len(cbr.requests) == 2
    cbr.mode = "ok"  # failed dates wait for their back-off: no request now
    assert CbrRates(rate_settings).ensure([date(2024, 1, 10)]).fetched == [] and len(cbr.requests) == 2


def test_a_source_with_no_address_allowed_is_not_contacted(rate_settings, cbr):
    report = CbrRates(rate_settings.with_(allow_loopback=False)).ensure([date(2024, 1, 10)])
    assert report.fetched == [] and "loopback" in report.unreachable and cbr.requests == []


def test_to_usd_reads_the_fetched_rates(rate_settings, cbr):
    day = date(2024, 11, 6)
    value, note = usd.to_usd(45e9, "KZT", day)
    assert value is None and note == f"rate not yet available: Central Bank of Russia (CBR) rate of KZT for {day}"
    CbrRates(rate_settings).ensure([day])
    value, note = usd.to_usd(45e9, "KZT", day)
    assert note is None and value == pytest.approx(45e9 * cbr_value("KZT", day) / cbr_value("USD", day), abs=0.01)
    for code in ("UZS", "KGS", "TJS", "TMT", "AZN"):
        v, n = usd.to_usd(1e9, code, day)
        assert n is None and v == pytest.approx(1e9 * cbr_value(code, day) / cbr_value("USD", day), abs=0.01)
    # RUB: the ECB stopped in March 2022; the CBR's own dollar rate gives it
    v, n = usd.to_usd(85.4963e9, "RUB", day)
    assert n is None and v == pytest.approx(85.4963e9 / cbr_value("USD", day), abs=0.01)
    # a day with no document of its own: the nearest one, said so
    v, n = usd.to_usd(1e9, "KZT", day + timedelta(days=2))
    assert v == pytest.approx(1e9 * cbr_value("KZT", day) / cbr_value("USD", day), abs=0.01)
    assert n == f"CBR rate of {day} (the nearest fetched to {day + timedelta(days=2)})"
    # a currency the document does not list, and one no source has
    v, n = usd.to_usd(1e9, "AFN", day)
    assert v is None and n.startswith("no rate source for AFN: neither the ECB nor the CBR (document of")
    # ECB currencies keep their ECB rate
    eur, n = usd.to_usd(1e9, "EUR", date(2020, 3, 2))
    assert n is None and 1.05e9 < eur < 1.2e9


def test_reenrichment_picks_up_rates_fetched_later(rate_settings, cbr):
    """A story enriched while the source was down carries the note; enriched again from its text once the rate
    is on disk, it has the value (what `newswatch es reenrich` does for stored stories)."""
    from newswatch.pipelines.enrich import enrich_page

    page = {"id": "x", "url": "http://news.example/a", "canonical_url": "http://news.example/a", "feeds": [],
            "fetched_at": "2024-11-06T10:00:00Z", "published_at": "2024-11-06T06:00:00+00:00",
            "article": {"title": "Almaty approves budget", "date": "2024-11-06",
                        "text": "The regional government will provide land and 45 billion tenge in infrastructure "
                                "spending, officials in Almaty said on Wednesday."}}
    _tag, before = enrich_page(json.loads(json.dumps(page)), rate_settings.effective_rates_dir)
    (m,) = before["finance"]
    assert m["currency"] == "KZT" and m["usd"] is None and "rate not yet available" in m["usd_note"]
    assert "2024-11-06" in m["usd_note"] and "CBR" in m["usd_note"]
    CbrRates(rate_settings).ensure([date(2024, 11, 6)])
    _tag, after = enrich_page(json.loads(json.dumps(page)), rate_settings.effective_rates_dir)
    (m,) = after["finance"]
    expected = 45e9 * cbr_value("KZT", date(2024, 11, 6)) / cbr_value("USD", date(2024, 11, 6))
    assert m["usd_note"] is None and m["usd"] == pytest.approx(expected, abs=0.01)


def test_ingest_fetches_the_rates_of_the_new_stories(settings, prefect_harness, cbr, tmp_path, es_client):
    """The sample feeds through the flow with the CBR source on loopback: tenge and somoni get USD values."""
    from newswatch.flows.ingest import ingest_flow
    from newswatch.sampleserver import SampleServer
    from newswatch.settings import PACKAGE_DATA

    s = settings.with_(rates_url=cbr.url, rates_dir=str(tmp_path / "rates"), rates_delay=0.0)
    with SampleServer(PACKAGE_DATA / "sample") as sample:
        feeds = tmp_path / "feeds.txt"
        feeds.write_text("".join(sample.url(f"feeds/{f.name}") + "\n"
                                 for f in sorted((PACKAGE_DATA / "sample" / "feeds").glob("*.xml"))))
        summary = ingest_flow(str(feeds), overrides=s.public())
    # one request per publication date of the new entries, nothing else
    dates = {"18/02/2025", "06/11/2024", "02/06/2025", "19/10/2025", "20/10/2025", "30/01/2024", "11/03/2025",
             "14/03/2025"}  # the last: the sample's Russian story (som figures)
    assert set(cbr.asked()) == dates and len(cbr.requests) == len(dates)
    assert summary["rates"]["after_run"] == {"stories_waiting": 0}
    hits = es_client.search(index=s.index("stories"), query={"match_all": {}}, size=20)["hits"]["hits"]
    by_currency = {m["currency"]: (m, h["_source"]) for h in hits for m in h["_source"]["finance"]}
    tenge, story = by_currency["KZT"]
    day = date.fromisoformat(story["published_at"][:10])
    assert tenge["usd"] == pytest.approx(45e9 * cbr_value("KZT", day) / cbr_value("USD", day), abs=0.01)
    somoni, _ = by_currency["TJS"]
    assert somoni["usd"] is not None and somoni["usd_note"] is None
    som, _ = by_currency["KGS"]  # «около 15,7 млрд сомов» in the Russian story
    assert som["usd"] == pytest.approx(15.7e9 * cbr_value("KGS", date(2025, 3, 14)) / cbr_value("USD", date(2025, 3, 14)),
                                       abs=0.01)


def test_ingest_without_the_source_notes_the_missing_rate(settings, prefect_harness, feeds_file, es_client):
    from newswatch.flows.ingest import ingest_flow

    summary = ingest_flow(feeds_file("central-asia.rss.xml"), overrides=settings.public())
    assert "off" in summary["rates"]["unreachable"]
    assert summary["rates"]["after_run"]["stories_waiting"] == 1  # the Turkmen story's somoni
    hits = es_client.search(index=settings.index("stories"), query={"match_all": {}}, size=20)["hits"]["hits"]
    (somoni,) = [m for h in hits for m in h["_source"]["finance"] if m["currency"] == "TJS"]
    assert somoni["usd"] is None
    assert somoni["usd_note"] == "rate not yet available: Central Bank of Russia (CBR) rate of TJS for 2024-09-05"
