"""The digest as a reader sees it: a summary line, deals before background figures, clean links."""
from __future__ import annotations

from newswatch.alerting.digest import build_digest, summary_line
from newswatch.alerting.rules import parse_rules


def _m(text, amount, currency, usd, kind, recipient=None, **extra):
    return {"text": text, "amount": amount, "currency": currency, "usd": usd, "kind": kind, "recipient": recipient,
            "approx": False, "sentence": f"... {text} ...", "equivalent_of": None, "repeat_of": None, **extra}


STORIES = [
    {"title": "Yuan loan", "url": "https://news.example/a.html?utm_source=rss&utm_medium=feed&id=4",
     "source_name": "Steppe Business Review", "site": "127.0.0.1:8000", "published_at": "2024-09-05T12:00:00+05:00",
     "countries": ["TM"],
     "finance": [_m("$40 billion", 40e9, "USD", 40e9, "trade"),
                 _m("3 billion yuan", 3e9, "CNY", 4.2e8, "loan", "TM", lender="cdb", lender_name="China Development Bank",
                    lender_country="CN"),
                 _m("about $420 million", 4.2e8, "USD", 4.2e8, "loan", "TM", equivalent_of=1),
                 _m("1-2 billion somoni", 1e9, "TJS", None, "grant", "TJ", amount_max=2e9,
                    usd_note="rate not yet available: Central Bank of Russia (CBR) rate of TJS for 2024-09-05")]},
    {"title": "Bank loan", "url": "https://news.example/b.html", "site": "news.example", "countries": ["KG"],
     "published_at": "2025-02-18T08:00:00+05:00",
     "finance": [_m("$250 million", 250e6, "USD", 250e6, "loan", "KG"),
                 _m("$250 million", 250e6, "USD", 250e6, "loan", "KG", repeat_of=0)]},
]


def test_summary_line_counts_each_deal_once_by_recipient():
    assert summary_line(STORIES) == ("2 stories · 3 deals, $670 million: TM $420 million, KG $250 million "
                                     "(1 without a USD value)")


def test_digest_lists_deals_first_and_links_without_tracking():
    rule = parse_rules([{"name": "desk", "recipients": ["a@example.org"], "countries": ["TM"]}])[0]
    msg = build_digest(rule, STORIES, "newswatch@localhost")
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert text.splitlines()[0] == summary_line(STORIES)
    assert "https://news.example/a.html?id=4" in text and "utm_" not in text and "utm_" not in html
    first = text[text.index("* Yuan loan"):text.index("* Bank loan")]
    assert first.index("deals:") < first.index("CNY 3 billion") < first.index("TJS 1–2 billion") \
        < first.index("background figures:") < first.index("USD 40 billion")
    assert "USD 420 million" not in first  # the yuan's dollar equivalent is not a second deal
    assert "TJS 1–2 billion (USD value unknown: rate not yet available" in first
    assert "China Development Bank (CN) → TM" in first and "Steppe Business Review" in first
    assert "127.0.0.1" not in text
    second = text[text.index("* Bank loan"):]
    assert second.count("USD 250 million") == 1  # the repeat is not listed again
    assert "news.example" in second
