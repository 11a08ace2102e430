"""Near-duplicate fingerprints and cluster planning (pure functions)."""
from __future__ import annotations

import itertools

import syndication as sy
from newswatch.clustering import plan_clusters
from newswatch.extraction import html_to_article, neardup


def test_pairing_on_the_syndication_set_finds_copies_and_only_copies():
    pages = sy.pages()
    prints = {p.path: neardup.fingerprint(html_to_article(p.html.decode(), url="http://x" + p.path,
                                                          min_chars=200)["text"]) for p in pages}
    predicted = set()
    for a, b in itertools.combinations(pages, 2):
        fa, fb = prints[a.path], prints[b.path]
        candidate = bool(set(fa["lsh_bands"]) & set(fb["lsh_bands"]))  # what the index query finds
        if candidate and neardup.is_copy(neardup.decode(fa["minhash"]), neardup.decode(fb["minhash"]), 0.6):
            predicted.add(frozenset((a.path, b.path)))
    truth = sy.true_pairs(pages)
    assert len(truth) >= 30 and len(list(itertools.combinations(pages, 2))) - len(truth) >= 500
    precision, recall = sy.precision_recall(predicted, truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_shared_part_is_measured_against_both_texts():
    story = " ".join(f"word{i}" for i in range(300))
    boiler = " ".join(f"boiler{i}" for i in range(60))
    a = neardup.decode(neardup.fingerprint(story)["minhash"])
    longer = neardup.decode(neardup.fingerprint(story + " " + " ".join(f"extra{i}" for i in range(150)))["minhash"])
    assert neardup.is_copy(a, longer, 0.6), "an outlet that adds a half is still carrying the story"
    alone = neardup.decode(neardup.fingerprint(boiler)["minhash"])
    with_boiler = neardup.decode(neardup.fingerprint(story + " " + boiler)["minhash"])
    assert neardup.shared(alone, with_boiler)[0] > 0.8
    assert not neardup.is_copy(alone, with_boiler, 0.6), "a site's standard paragraph is no copy of its stories"
    other = neardup.decode(neardup.fingerprint(" ".join(f"other{i}" for i in range(300)) + " " + boiler)["minhash"])
    assert not neardup.is_copy(with_boiler, other, 0.6)


def test_signatures_of_another_version_are_never_compared():
    value = neardup.fingerprint("one two three four five six seven")["minhash"]
    assert neardup.decode(value)[1] == 3
    assert neardup.decode("r1k5p128b32:3:" + value.rsplit(":", 1)[1]) is None
    assert neardup.fingerprint("  ,, ") == {"minhash": None, "lsh_bands": []}


def _doc(sid, when, cluster=None, size=1, site="S", ingested="2024-06-01T00:00:00+00:00"):
    return {"cluster_id": cluster or sid, "cluster_size": size, "cluster_lead": (cluster or sid) == sid,
            "site": site, "url": f"http://{site}/{sid}", "published_at": when, "ingested_at": ingested,
            "cluster_sites": [site], "cluster_urls": [f"http://{site}/{sid}"]}


def test_plan_keeps_an_existing_cluster_id_and_merges_clusters_a_story_links():
    others = {"a": _doc("a", "2024-06-01", "a", 2, "A"), "b": _doc("b", "2024-06-02", "a", 2, "B"),
              "x": _doc("x", "2024-05-30", "x", 1, "X", ingested="2024-06-03T00:00:00+00:00")}
    new = {"n": _doc("n", "2024-05-01", site="N", ingested="2024-06-04T00:00:00+00:00")}
    # n is a copy of b (cluster a) and of x (alone): all four become cluster a, the one ingested first
    changes = plan_clusters(new, others, [("n", "b", 0.9), ("n", "x", 0.8)])
    assert set(changes) == {"a", "b", "x", "n"}
    assert {c["cluster_id"] for c in changes.values()} == {"a"}
    assert [sid for sid, c in changes.items() if c["cluster_lead"]] == ["a"]
    assert changes["n"]["cluster_size"] == 4 and changes["n"]["cluster_sites"] == ["A", "B", "N", "X"]
    assert changes["n"]["cluster_urls"][0] == "http://N/n", "URLs in order of publication"


def test_plan_for_new_stories_only_leads_with_the_earliest_and_leaves_loners_alone():
    new = {"p": _doc("p", "2024-06-02T10:00:00"), "q": _doc("q", "2024-06-02T08:00:00"), "r": _doc("r", "2024-06-02")}
    changes = plan_clusters(new, {}, [("p", "q", 0.9)])
    assert set(changes) == {"p", "q"}
    assert changes["p"]["cluster_id"] == "q" and changes["q"]["cluster_lead"] and not changes["p"]["cluster_lead"]
