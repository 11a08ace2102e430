"""The story builder's readable facts: publication time, outlet, equivalents and repeats, deal totals."""
from __future__ import annotations

from newswatch.pipelines.enrich import build_story, outlet_name, publication_time


def test_publication_time_keeps_the_time_of_day_and_its_zone():
    page = {"published_at": "2025-02-18T06:00:00+00:00"}
    assert publication_time({"published": "2025-02-18T08:00:00+0500", "date": "2025-02-18"}, page).isoformat() == \
        "2025-02-18T08:00:00+05:00"
    assert publication_time({"date": "2025-02-18"}, page).isoformat() == "2025-02-18T06:00:00+00:00"
    assert publication_time({"date": "2025-02-19"}, page).isoformat() == "2025-02-18T06:00:00+00:00"  # a zone away
    assert publication_time({"date": "2025-03-01"}, page).isoformat() == "2025-03-01T00:00:00+00:00"  # not the feed's
    assert publication_time({}, {}) is None


def test_the_outlet_is_a_name_not_an_address():
    page = {"url": "http://127.0.0.1:8000/a.html"}
    assert outlet_name({**page, "source_name": "Steppe Wire"}, {"sitename": "X"}, "T") == "Steppe Wire"
    assert outlet_name(page, {"sitename": "The Japan News"}, "T") == "The Japan News"
    assert outlet_name({**page, "feed_title": "Sample wire"}, {"sitename": "127.0.0.1:8000"}, "T") == "Sample wire"
    assert outlet_name({**page, "feed_title": "Sample wire"}, {"sitename": "China rolls over a loan"},
                       "China rolls over a loan") == "Sample wire"  # a headline is no site name
    assert outlet_name(page, {}, "T") == "127.0.0.1"


def test_equivalents_and_repeats_are_marked_and_counted_once():
    text = ("A Chinese group will invest 8 billion yuan (about $1.1 billion) in a smelter in Kazakhstan. Trade "
            "reached $40 billion. The 8 billion yuan investment is the largest this year.")
    doc = build_story({"id": "s", "url": "http://x.example/a", "canonical_url": "http://x.example/a", "feeds": [],
                       "fetched_at": "2024-11-06T00:00:00Z", "published_at": "2024-11-06T06:00:00Z",
                       "article": {"title": "Smelter", "text": text, "date": "2024-11-06"}})
    texts = [m["text"] for m in doc["finance"]]
    first, dollars = texts.index("8 billion yuan"), texts.index("about $1.1 billion")
    assert first < dollars and texts.count("8 billion yuan") == 1  # the repeat of the same flow is one mention
    yuan = doc["finance"][first]
    assert doc["finance"][dollars]["equivalent_of"] == first and yuan["equivalent_of"] is None
    assert yuan["repeat_of"] is None
    assert doc["deal_usd_total"] == yuan["usd"] and doc["deal_kinds"] == ["investment"]
    # the story-level total of every mention is still there, and is not what a deal chart shows
    assert doc["finance_usd_total"] == round(sum(m["usd"] for m in doc["finance"]), 2) > doc["deal_usd_total"]


def test_captions_are_a_field_of_their_own_and_facts_are_read_from_them():
    doc = build_story({"id": "c", "url": "http://x.example/c", "canonical_url": "http://x.example/c", "feeds": [],
                       "fetched_at": "2024-11-06T00:00:00Z", "published_at": "2024-11-06T06:00:00Z",
                       "article": {"title": "Budget", "text": "The budget was debated for a week.",
                                   "captions": ["Finance Minister of Tajikistan in Dushanbe."], "date": "2024-11-06"}})
    assert doc["text"] == "The budget was debated for a week." and doc["captions"] == [
        "Finance Minister of Tajikistan in Dushanbe."]
    assert doc["countries"] == ["TJ"]
