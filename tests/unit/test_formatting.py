"""The one money formatter (alert digest, CLI, search) and the links people click."""
from __future__ import annotations

import pytest

from newswatch.formatting import amount_text, clean_link, mention_text, parties_text, scaled, usd_or_why, usd_text


@pytest.mark.parametrize("amount, amount_max, shown", [
    (250e6, None, "250 million"), (1e9, 2e9, "1–2 billion"), (5e8, 2e9, "0.5–2 billion"), (36.5645e6, None, "36.6 million"),
    (1.4e13, None, "14 trillion"), (25_000, None, "25,000"), (999.7e6, None, "1 billion"), (3e6, 5e6, "3–5 million"),
    (4.1e12, None, "4.1 trillion"), (1_500, 2_500, "1,500–2,500"),
])
def test_amounts_are_scaled_once_for_both_ends_of_a_range(amount, amount_max, shown):
    assert scaled(amount, amount_max) == shown
    assert "e+" not in shown


def test_ranges_approx_amounts_and_missing_usd():
    rng = {"amount": 1e9, "amount_max": 2e9, "currency": "EUR", "usd": 1.1e9, "kind": "loan", "approx": False}
    assert amount_text(rng) == "EUR 1–2 billion" and usd_text(rng) == "$1.1–2.2 billion"
    approx = {"amount": 3e9, "currency": "USD", "usd": 3e9, "kind": "other", "approx": True}
    assert amount_text(approx) == "~USD 3 billion" and usd_text(approx) == "~$3 billion"
    missing = {"amount": 45e9, "currency": "KZT", "usd": None, "kind": "financing", "recipient": "KZ",
               "usd_note": "rate not yet available: Central Bank of Russia (CBR) rate of KZT for 2024-11-06"}
    assert usd_text(missing) == "" and usd_or_why(missing).startswith("USD value unknown: rate not yet available")
    assert mention_text(missing) == ("KZT 45 billion (USD value unknown: rate not yet available: Central Bank of "
                                     "Russia (CBR) rate of KZT for 2024-11-06), financing, ? → KZ")
    assert mention_text({**rng, "lender": "exim-china", "lender_name": "Export-Import Bank of China",
                         "lender_country": "CN", "recipient": "TJ"}) == \
        "EUR 1–2 billion ≈ $1.1–2.2 billion, loan, Export-Import Bank of China (CN) → TJ"
    assert mention_text({"amount": 250e6, "currency": "USD", "usd": 250e6, "kind": "loan", "lender": "world-bank",
                         "lender_name": "World Bank", "recipient": "KG"}) == "USD 250 million, loan, World Bank → KG"
    assert parties_text({"lender": "CN", "lender_name": "China", "lender_country": "CN"}) == "China → ?"  # a state: no "(CN)"


def test_cli_and_digest_use_the_same_formatter():
    from newswatch import cli
    from newswatch.alerting import digest

    rng = {"amount": 1e9, "amount_max": 2e9, "currency": "USD", "usd": 1e9, "kind": "loan", "approx": False}
    assert cli._money_lines([rng]) == mention_text(rng)
    assert digest.amount_text is amount_text and digest.usd_or_why is usd_or_why


def test_links_lose_their_tracking_parameters():
    assert clean_link("https://x.example/a.html?utm_source=rss&utm_medium=feed") == "https://x.example/a.html"
    assert clean_link("https://x.example/a?id=7&utm_campaign=c&fbclid=z") == "https://x.example/a?id=7"
    assert clean_link("https://x.example/a?id=7#top") == "https://x.example/a?id=7#top"
    assert clean_link(None) == ""
