"""Lender, recipient and kind from the story's structure (headline, lead, the deal introduced just before), and
equivalents that take the kind and parties of the amount they convert."""
from __future__ import annotations

from newswatch.extraction import extract


def _flows(title: str, text: str):
    return extract(title, text).finance


def test_the_headline_names_the_recipient_the_sentence_leaves_open():
    (m,) = _flows("Tajikistan gets new road money",
                  "The Asian Development Bank approved a $50 million grant on Monday. Officials welcomed it.")
    assert (m.kind, m.lender, m.recipient) == ("grant", "adb", "TJ")


def test_a_figure_right_after_a_deal_is_more_of_that_deal():
    first, second = _flows("Roads", "The Asian Development Bank approved a $100 million loan to Kyrgyzstan on "
                                    "Monday. A further $20 million will follow in 2025.")
    assert (first.kind, first.lender, first.recipient) == ("loan", "adb", "KG")
    assert (second.kind, second.lender, second.recipient) == ("loan", "adb", "KG")


def test_a_far_away_figure_does_not_inherit_the_deal():
    filler = " ".join(["The weather in the capital was mild and the markets were calm all week."] * 8)
    first, second = _flows("Roads", f"The Asian Development Bank approved a $100 million loan to Kyrgyzstan. "
                                    f"{filler} Ticket sales reached $20 million.")
    assert first.kind == "loan" and second.kind == "other"


def test_a_lending_state_is_not_where_the_money_goes():
    flows = _flows("Japan and Bangladesh sign aid deal",
                   "Japan will provide a $100 million loan, the ministry said. The $40 million second tranche is "
                   "for ports.")
    assert [(m.lender, m.recipient) for m in flows] == [("JP", "BD"), ("JP", "BD")]


def test_an_equivalent_takes_the_kind_and_parties_of_the_amount_it_converts():
    flows = _flows("Tenge loan", "The EBRD lent Kazakhstan 2.2 billion tenge (€7 million) for water pipes. Saudi "
                                 "Arabia announced a $1 billion oil facility for Pakistan, equivalent to around "
                                 "Rs290 billion.")
    tenge, euro, usd, rupees = flows
    assert (euro.equivalent_of, euro.kind, euro.recipient) == (0, tenge.kind, "KZ")
    assert tenge.kind == "loan" and usd.kind == "financing"
    assert (rupees.equivalent_of, rupees.kind, rupees.recipient, rupees.currency) == (2, "financing", "PK", "PKR")


def test_kind_words_of_news_writing():
    cases = {"Russia wrote off $240 million of Kyrgyzstan's debt.": "debt",
             "The bank loaned Kazakhstan $40 million for railways.": "loan",
             "They signed a $700 million credit agreement.": "loan",
             "Rahmon returned with nearly $310 million in grants and loans.": "financing",
             "Bilateral trade turnover reached $885 million in 2016.": "trade"}
    for sentence, kind in cases.items():
        (m,) = _flows("News", sentence)
        assert m.kind == kind, (sentence, m.kind)
