"""Syndicated copies end to end: the same wire stories on three outlets (three loopback hosts, each with its own
page template and copy edits) -> ingest flow -> real Elasticsearch: one cluster per story, kept across runs; the
alert digest lists a cluster once with all its outlets; deal totals take each cluster once."""
from __future__ import annotations

import itertools

import pytest

import syndication as sy
from newswatch.connectors.es import Indices

pytestmark = pytest.mark.integration


@pytest.fixture()
def outlets(tmp_path):
    from newswatch.sampleserver import SampleServer

    pages = sy.pages()
    servers = []
    for outlet, host in enumerate(sy.HOSTS):
        server = SampleServer(tmp_path, host=host).start()
        mine = [p for p in pages if p.outlet == outlet]
        server.overrides.update({p.path: p.html for p in mine})
        server.overrides["/feed.xml"] = sy.feed(mine, server.base_url, f"outlet {outlet}")
        servers.append(server)
    yield servers, pages
    for server in servers:
        server.stop()


def _stories(es, ix) -> dict[str, dict]:
    es.indices.refresh(index=ix.stories)
    hits = es.search(index=ix.stories, query={"match_all": {}}, size=200)["hits"]["hits"]
    return {h["_source"]["url"]: h["_source"] for h in hits}


def _pairs(stories: dict[str, dict]) -> set[frozenset[str]]:
    from urllib.parse import urlsplit

    return {frozenset((urlsplit(a).path, urlsplit(b).path)) for a, b in itertools.combinations(stories, 2)
            if stories[a]["cluster_id"] == stories[b]["cluster_id"]}


@pytest.mark.heavy
def test_copies_on_three_outlets_are_one_cluster_across_runs_alerted_once(outlets, settings, es_client, tmp_path,
                                                                        prefect_harness):
    from test_alerts import Inbox

    from newswatch.flows.ingest import ingest_flow

    servers, pages = outlets
    ix = Indices(settings)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: kazakhstan, recipients: [desk@example.org], countries: [KZ]}\n")
    feeds = tmp_path / "feeds.txt"
    with Inbox() as inbox:
        s = settings.with_(smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_timeout=5.0, rules_file=str(rules))
        # run 1: two outlets
        feeds.write_text("".join(srv.url("feed.xml") + "\n" for srv in servers[:2]))
        first = ingest_flow(str(feeds), overrides=s.public())
        assert first["counts"]["indexed"] == 24, first
        assert first["counts"]["in_clusters"] == 24
        run1 = _stories(es_client, ix)
        leads1 = {d["cluster_id"] for d in run1.values()}
        assert len(leads1) == 12
        # run 2: the third outlet's copies arrive and join the clusters, which keep their ids
        feeds.write_text("".join(srv.url("feed.xml") + "\n" for srv in servers))
        second = ingest_flow(str(feeds), overrides=s.public())
        assert second["counts"]["indexed"] == 12, second
    stories = _stories(es_client, ix)
    assert len(stories) == 36
    assert {d["cluster_id"] for d in stories.values()} == leads1, "existing clusters keep their ids"

    predicted, truth = _pairs(stories), sy.true_pairs(pages)
    precision, recall = sy.precision_recall(predicted, truth)
    print(f"\nsyndication pairing on {len(truth)} copy pairs and {630 - len(truth)} other pairs: "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.95, (sorted(map(sorted, predicted - truth))[:5],
                                                 sorted(map(sorted, truth - predicted))[:5])

    by_cluster: dict[str, list[dict]] = {}
    for d in stories.values():
        by_cluster.setdefault(d["cluster_id"], []).append(d)
    for cid, members in by_cluster.items():
        assert len(members) == 3 and all(m["cluster_size"] == 3 for m in members)
        leads = [m for m in members if m["cluster_lead"]]
        assert len(leads) == 1 and leads[0]["id"] == cid
        assert leads[0]["published_at"] == min(m["published_at"] for m in members), "the first to publish leads"
        for m in members:
            assert m["cluster_sites"] == ["Caspian Monitor", "Silk Road Daily", "Steppe Wire"]
            assert sorted(m["cluster_urls"]) == sorted(x["url"] for x in members)

    # run 1's digest listed each matching cluster once with its two outlets; run 2 sent only clusters that match
    # the rule for the first time (a third outlet's copy adding a country), never one already sent
    def kz(outlet_sites):
        return {cid for cid, ms in by_cluster.items() if any("KZ" in m["countries"] for m in ms
                                                             if m["site"] in outlet_sites)}

    kz1 = kz({"Steppe Wire", "Silk Road Daily"})
    kz_all = kz({"Steppe Wire", "Silk Road Daily", "Caspian Monitor"})
    assert kz1 and len(kz_all) < 12
    assert first["alerts"]["stories_sent"] == len(kz1)
    assert second["alerts"]["stories_sent"] == len(kz_all - kz1)
    assert len(inbox.messages) == 1 + bool(kz_all - kz1)
    bodies = [m.get_body(preferencelist=("plain",)).get_content() for _, m in inbox.messages]
    assert bodies[0].count("carried by 2 outlets: Silk Road Daily, Steppe Wire") == len(kz1)
    for cid in kz_all:
        titles = {m["title"] for m in by_cluster[cid]}
        assert sum(line == f"* {t}" for b in bodies for line in b.splitlines() for t in titles) == 1, titles

    # deal totals: every cluster once, through the deals dashboard's filter
    from newswatch.kibana import ONE_PER_CLUSTER

    def total(query):
        agg = es_client.search(index=ix.stories, size=0, query=query,
                               aggs={"usd": {"sum": {"field": "deal_usd_total"}}})
        return agg["aggregations"]["usd"]["value"]

    leads_total = sum(m.get("deal_usd_total") or 0 for ms in by_cluster.values() for m in ms if m["cluster_lead"])
    assert leads_total > 0
    assert total(ONE_PER_CLUSTER[1]) == pytest.approx(leads_total)
    assert total({"match_all": {}}) > 2 * leads_total, "without it, copies would count the money thrice"
