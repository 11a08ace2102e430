"""A Russian-language feed end to end: real HTTP on loopback, the real flow, the real Elasticsearch. The stories are
found by a Russian query (any case form) and by their structured fields, and the default alert rule fires for
exactly the pages gold says."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from newswatch.connectors.es import Indices

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ru_gold(fixtures_dir):
    return json.loads((fixtures_dir / "dev-ru" / "gold.json").read_text(encoding="utf-8"))


@pytest.fixture()
def ru_feed(fixture_server, ru_gold, tmp_path):
    """A Russian RSS feed (declaring ``lang: ru`` in the feeds file) over the dev-ru pages, served on loopback."""
    items = "".join(
        f"<item><title>{a['title']}</title><link>{fixture_server.url('dev-ru/articles/' + name)}</link></item>"
        for name, a in ru_gold["articles"].items())
    path = f"/feeds/ru-{tmp_path.name}.rss.xml"
    fixture_server.overrides[path] = (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                                      f"<title>Центральная Азия</title><link>{fixture_server.base_url}/</link>"
                                      f"{items}</channel></rss>").encode("utf-8")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - {{url: '{fixture_server.url(path.lstrip('/'))}', name: ru, lang: ru}}\n",
                     encoding="utf-8")
    return str(feeds)


def _name(doc: dict) -> str:
    return urlsplit(doc["canonical_url"]).path.rsplit("/", 1)[-1]


def test_russian_feed_into_elasticsearch(settings, ru_feed, ru_gold, prefect_harness, es_client):
    from newswatch.alerting.engine import match
    from newswatch.alerting.rules import load_rules
    from newswatch.flows.ingest import ingest_flow
    from newswatch.search import search

    summary = ingest_flow(ru_feed, overrides=settings.public())
    ix = Indices(settings)
    assert summary["counts"]["indexed"] == len(ru_gold["articles"]), summary
    docs = {_name(h["_source"]): h["_source"] for h in es_client.search(index=ix.stories, size=50)["hits"]["hits"]}
    assert set(docs) == set(ru_gold["articles"])
    # every story is Russian, three of them only by its text (their pages say no language)
    assert {d["lang"] for d in docs.values()} == {"ru"}

    # Russian queries (the standard analyzer tokenises Cyrillic; title.ru/text.ru stem where the cluster can)
    hits = search(es_client, ix.stories, "Саудовского фонда")
    assert [urlsplit(h["url"]).path.rsplit("/", 1)[-1] for h in hits][:1] == ["tj-saudi-fund-306mln-soft-loans.html"]
    phrase = es_client.search(index=ix.stories, query={"match_phrase": {"text": "безвозмездную помощь"}})
    assert [_name(h["_source"]) for h in phrase["hits"]["hits"]] == ["uz-china-250mln-yuan-grant.html"]

    # structured fields: loans to a Central Asian country, in any currency, by the same ids as English stories
    loans = es_client.search(index=ix.stories, size=50, query={"nested": {"path": "finance", "query": {"bool": {
        "filter": [{"term": {"finance.kind": "loan"}}, {"terms": {"finance.recipient": ru_gold["central_asia"]}}]}}}})
    expected = {name for name, a in ru_gold["articles"].items()
                if any(f["kind"] == "loan" and f.get("recipient") in ru_gold["central_asia"] for f in a["finance"])}
    assert {_name(h["_source"]) for h in loans["hits"]["hits"]} == expected
    saudi = docs["tj-saudi-fund-306mln-soft-loans.html"]
    assert "saudi-fund" in saudi["orgs"] and "saudi-fund" in saudi["lenders"] and saudi["recipients"] == ["TJ"]
    tenge = docs["kz-adb-ebrd-330bn-tenge-sewage.html"]
    assert {f["currency"] for f in tenge["finance"]} == {"KZT"} and "adb" in tenge["orgs"]
    for name, a in ru_gold["articles"].items():
        assert set(a["countries"]) <= set(docs[name]["countries"]), name

    # the default alert rule, as Elasticsearch runs it, fires for exactly the pages gold says
    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    fired = {_name(d) for d in match(es_client, ix, rule, summary["story_ids"])}
    assert fired == {name for name, a in ru_gold["articles"].items() if a["alert_central_asia_financing"]}


def test_russian_keywords_fire_the_default_rule_without_a_parsed_amount(settings, es_client):
    """A story that talks about loans in an inflected form («кредитов», «займа») but gives no sum still alerts."""
    from newswatch.alerting.engine import match
    from newswatch.alerting.rules import load_rules
    from newswatch.connectors.es import bulk_write, ensure_indices
    from newswatch.pipelines.enrich import build_story

    ix = ensure_indices(es_client, settings)
    pages = []
    for n, text in enumerate([
            "Правительство Таджикистана рассчитывает на привлечение новых займов и кредитов для строительства школ.",
            "В Бишкеке прошёл фестиваль национальной кухни, сообщили организаторы."]):
        url = f"https://example.org/ru/{n}"
        page = {"id": f"ru-keywords-{n}", "url": url, "canonical_url": url, "feeds": ["https://example.org/feed"],
                "fetched_at": "2025-01-02T00:00:00+00:00",
                "article": {"title": "Новости", "text": text, "lang": "ru", "date": "2025-01-02"}}
        pages.append(build_story(page))
    assert [p["finance"] for p in pages] == [[], []] and pages[0]["countries"] == ["TJ"]
    ok, failed = bulk_write(es_client, ix.stories, pages)
    assert not failed
    es_client.indices.refresh(index=ix.stories)
    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    assert [d["_id"] for d in match(es_client, ix, rule, [p["id"] for p in pages])] == ["ru-keywords-0"]
