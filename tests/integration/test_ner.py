"""The Stanford CoreNLP named-entity service, for real: its binding, the merge rules on its answers, a service
that is down, slow or killed mid-run, and re-enrichment of the stories it missed."""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newswatch.connectors.es import Indices
from newswatch.connectors.nlp import NlpConfig
from newswatch.extraction import analyze_text
from newswatch.extraction.gazetteer import load

pytestmark = pytest.mark.integration


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = []
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state != "0A" or int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            if width == 8:
                out.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                out.append(socket.inet_ntop(socket.AF_INET6, words))
    return out


def test_the_service_listens_on_loopback_only(nlp_url):
    addrs = _listening(urlsplit(nlp_url).port)
    assert addrs, "nothing listens on the service's port"
    assert all(a in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for a in addrs), addrs


STORY = ("Nurlan Moldakulov, head of the Kyrgyz Agency for Hydropower Development (KAHD), said on Monday that the "
         "Asian Development Bank would lend $120 million for the Kambarata-1 plant.\n"
         "Moldakulov added that KAHD would start work in May, in a statement issued in the Russian-language press.")


def test_names_from_the_service_are_merged_with_the_gazetteer(nlp_url):
    nlp = NlpConfig(nlp_url)
    rules = analyze_text("Kyrgyzstan signs hydropower loan", STORY)
    res = analyze_text("Kyrgyzstan signs hydropower loan", STORY, nlp=nlp)
    assert res.ner == "corenlp" and rules.ner == "rules"
    by_id = {(e.type, e.id): e for e in res.entities}
    # a gazetteer entity keeps its id and Wikidata id
    adb_ref = load().forms[("Asian", "Development", "Bank")]
    adb = by_id[("org", adb_ref.id)]
    assert adb.wikidata == adb_ref.wikidata
    # a new name gets a stable id; the surname alone joins the full name
    person = by_id[("person", "nurlan-moldakulov")]
    assert person.count == 2 and "Moldakulov" in person.surface_forms
    # the recogniser's boundaries: the whole agency name (the rules cut "Kyrgyz" off), its acronym joins it
    agency = by_id[("org", "kyrgyz-agency-for-hydropower-development")]
    assert "KAHD" in agency.surface_forms and agency.count == 3
    assert ("org", "agency-for-hydropower-development") in {(e.type, e.id) for e in rules.entities}
    # a language is not a country: the MISC span "Russian-language" vetoes the gazetteer's "Russian"
    assert "RU" in rules.countries and "RU" not in res.countries
    assert "KG" in res.countries, "never a country the gazetteer found as a place removed without a reason"
    # the same person in another story, other words around: the same id
    other = analyze_text("Dam talks", "Officials said Nurlan Moldakulov met investors in Osh on Tuesday.", nlp=nlp)
    assert ("person", "nurlan-moldakulov") in {(e.type, e.id) for e in other.entities}


def test_an_organisation_the_service_found_can_be_the_lender(nlp_url):
    res = analyze_text("Wind farm", "TASHKENT - ACWA Power will provide $1.2 billion to build a wind farm in "
                                    "Uzbekistan's Karakalpakstan region, the company said.", nlp=NlpConfig(nlp_url))
    money = next(m for m in res.finance if m.amount == 1.2e9)
    assert money.lender == "acwa-power"
    assert ("org", "acwa-power") in {(e.type, e.id) for e in res.entities}


# ---------------------------------------------------------------- the service down, slow, killed mid-run


class CountingProxy:
    """A loopback TCP forwarder to the service that counts requests and answers, can delay answers, and can run an
    action (e.g. killing the service) before it forwards a request that comes after ``n`` answers."""

    def __init__(self, target_port: int, *, delay: float = 0.0):
        self.target = ("127.0.0.1", target_port)
        self.delay = delay
        self.requests = 0
        self.answers = 0
        self.action: tuple[int, object] | None = None
        self._done = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            client.close()
            return

        def back():
            try:
                while data := upstream.recv(65536):
                    if data.startswith(b"HTTP/1.1 200"):
                        self.answers += 1
                    if self.delay:
                        time.sleep(self.delay)
                    client.sendall(data)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=back, daemon=True).start()
        try:
            while data := client.recv(65536):
                if data.startswith(b"POST /ner"):
                    self.requests += 1
                    if self.action and self.answers >= self.action[0] and not self._done:
                        self._done = True
                        self.action[1]()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def close(self):
        self.listener.close()


@pytest.fixture()
def dev_feed(tmp_path, fixtures_dir, fixture_server):
    """An RSS feed of the 32 dev-set pages (served by the fixture server), itself served on loopback."""
    from newswatch.sampleserver import SampleServer

    root = tmp_path / "site"
    root.mkdir()
    pages = sorted((fixtures_dir / "dev" / "articles").glob("*.html"))
    items = "".join(f"<item><title>{p.stem}</title><link>{fixture_server.url('dev/articles/' + p.name)}</link>"
                    f"<pubDate>Mon, 02 Dec 2024 06:00:00 +0000</pubDate></item>" for p in pages)
    (root / "feed.xml").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>dev</title>'
                                   f"<link>{fixture_server.base_url}</link>{items}</channel></rss>")
    with SampleServer(root) as server:
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("feed.xml") + "\n")
        yield str(feeds), len(pages)


def _stories(es, ix) -> list[dict]:
    es.indices.refresh(index=ix.stories)
    return [h["_source"] for h in es.search(index=ix.stories, size=200)["hits"]["hits"]]


def _ner_errors(es, ix) -> list[dict]:
    es.indices.refresh(index=ix.errors)
    return [h["_source"] for h in es.search(index=ix.errors, size=200, query={"term": {"error_type": "ner_unavailable"}})["hits"]["hits"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_down_stories_indexed_with_rules_and_one_error_record(settings, dev_feed, es_client,
                                                                     prefect_harness, fault_report):
    from newswatch.flows.ingest import ingest_flow

    feeds, n = dev_feed
    s = settings.with_(nlp_url=f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    summary = ingest_flow(feeds, overrides=s.public())
    ix = Indices(s)
    stories = _stories(es_client, ix)
    assert len(stories) == summary["counts"]["indexed"] == n, ("nothing lost", summary)
    assert {st["ner"] for st in stories} == {"rules"}
    errors = _ner_errors(es_client, ix)
    assert len(errors) == 1, "one record per run, not one per story"
    assert "newswatch es reenrich" in errors[0]["reason"] and errors[0]["run_id"] == summary["run_id"]
    fault_report("NER service down", injected=1, survived=n, lost=0, note="all stories ner=rules, 1 error record")


def test_service_slow_times_out_and_the_run_goes_on(settings, dev_feed, es_client, nlp_url, prefect_harness):
    from newswatch.flows.ingest import ingest_flow

    feeds, n = dev_feed
    proxy = CountingProxy(urlsplit(nlp_url).port, delay=5.0)
    try:
        s = settings.with_(nlp_url=proxy.url, nlp_timeout=1.0)
        started = time.monotonic()
        summary = ingest_flow(feeds, overrides=s.public())
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    ix = Indices(s)
    stories = _stories(es_client, ix)
    assert len(stories) == summary["counts"]["indexed"] == n
    assert {st["ner"] for st in stories} == {"rules"}
    assert len(_ner_errors(es_client, ix)) == 1
    # each worker waits for one timeout, then the circuit is open: not one timeout per story
    assert proxy.requests <= 4, proxy.requests
    assert elapsed < 60


@pytest.mark.heavy
def test_service_killed_mid_run_loses_nothing_and_reenrich_repairs(settings, dev_feed, es_client, nlp_url,
                                                                   prefect_harness, fault_report, capsys):
    from newswatch.connectors import nlp_local
    from newswatch.flows.ingest import ingest_flow
    from newswatch.maintenance import reenrich

    feeds, n = dev_feed
    # a second service of its own (this one dies), from the session's installation
    doomed = settings.with_(nlp_url=None, nlp_port=_free_port(), home=_install_home())
    url = nlp_local.start(doomed, timeout=180)
    pid = nlp_local._read_pid(doomed)
    proxy = CountingProxy(urlsplit(url).port)
    proxy.action = (1, lambda: os.killpg(pid, signal.SIGKILL))  # a request after the first answer: dead service
    try:
        s = settings.with_(nlp_url=proxy.url)
        summary = ingest_flow(feeds, overrides=s.public())
    finally:
        proxy.close()
        nlp_local.stop(doomed)
    ix = Indices(s)
    stories = _stories(es_client, ix)
    assert len(stories) == summary["counts"]["indexed"] == n, "nothing lost"
    by = {}
    for st in stories:
        by.setdefault(st["ner"], []).append(st)
    assert by.get("corenlp") and by.get("rules"), {k: len(v) for k, v in by.items()}
    assert len(_ner_errors(es_client, ix)) == 1
    fault_report("NER service killed mid-run", injected=1, survived=n, lost=0,
                 note=f"{len(by['corenlp'])} by CoreNLP, {len(by['rules'])} by rules")
    # the service is back (the session's): re-enrich from the stored text, nothing fetched again
    people_before = sum(len(st["people"]) for st in by["rules"])
    back = settings.with_(nlp_url=nlp_url)
    result = reenrich(es_client, back, datetime.now(timezone.utc) - timedelta(hours=1), only_rules=True)
    assert result["stories"] == len(by["rules"]) and result["updated"] == len(by["rules"])
    after = {st["id"]: st for st in _stories(es_client, ix)}
    assert len(after) == n, "re-enrichment writes each story in place, no copies"
    assert {st["ner"] for st in after.values()} == {"corenlp"}, (result["recognisers"], result["errors"])
    assert sum(len(after[st["id"]]["people"]) for st in by["rules"]) > people_before
    for st in by["rules"]:  # what enrichment does not derive is kept as it was
        assert after[st["id"]]["fetched_at"] == st["fetched_at"] and after[st["id"]]["text"] == st["text"]


def _install_home() -> Path:
    from newswatch.settings import Settings

    return Settings.from_env().home


def test_reenrich_command_fills_usd_once_the_rate_is_cached(settings, es_client, nlp_url, tmp_path):
    """`newswatch es reenrich --since` reads the rate cache the flow fills (here written as the CBR serves it)."""
    import subprocess
    import sys

    from newswatch.connectors.es import bulk_write, ensure_indices
    from newswatch.pipelines.enrich import build_story

    ix = ensure_indices(es_client, settings)
    page = {"id": "kzt-story", "url": "https://example.kz/a", "canonical_url": "https://example.kz/a", "feeds": [],
            "fetched_at": datetime.now(timezone.utc).isoformat(), "article": {
                "title": "Kazakhstan budget", "date": "2024-11-06",
                "text": "ASTANA - The government of Kazakhstan allocated 120 billion tenge to the programme, the "
                        "finance ministry said on Wednesday, adding that Nurlan Baibazarov would oversee it."}}
    from newswatch.extraction.usd import rates_dir, use_rates_dir

    rates = tmp_path / "rates"
    previous = rates_dir()
    use_rates_dir(rates)  # empty: the ECB has no tenge, and no CBR document is there yet
    try:
        doc = build_story(page)
    finally:
        use_rates_dir(previous)
    tenge = next(m for m in doc["finance"] if m["currency"] == "KZT")
    assert tenge["usd"] is None and "rate not yet available" in tenge["usd_note"]
    bulk_write(es_client, ix.stories, [doc])
    es_client.indices.refresh(index=ix.stories)
    from servers import cbr_document

    from newswatch.connectors.rates import parse_cbr
    from newswatch.extraction.usd import cbr_file

    day = datetime(2024, 11, 6).date()
    effective, table = parse_cbr(cbr_document(day))
    cbr_file(rates, day).parent.mkdir(parents=True)
    cbr_file(rates, day).write_text(json.dumps({"source": "CBR", "requested": day.isoformat(),
                                                "date": effective.isoformat(), "rates": table, "final": True}))
    env = {**os.environ, "ES_URL": settings.effective_es_url, "NEWSWATCH_INDEX_PREFIX": settings.index_prefix,
           "NEWSWATCH_HOME": str(settings.home), "NEWSWATCH_RATES_DIR": str(rates), "NEWSWATCH_NLP_URL": nlp_url}
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "es", "reenrich", "--since", "1d"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "re-enriched 1 of 1" in out.stdout
    stored = es_client.get(index=ix.stories, id="kzt-story")["_source"]
    tenge = next(m for m in stored["finance"] if m["currency"] == "KZT")
    assert tenge["usd"] and tenge["usd"] > 1e8 and stored["ner"] == "corenlp"
