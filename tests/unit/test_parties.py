"""Story-level parties and kinds of money mentions, on stories written for these tests."""
from __future__ import annotations

from newswatch.extraction import extract


def fin(title: str, text: str):
    return extract(title, text).finance


def by_text(found, text):
    return next(m for m in found if m.text == text)


def test_recipient_from_the_story_when_the_sentence_names_none():
    found = fin("Tajikistan secures ADB loan for water supply",
                "The Asian Development Bank approved a $50 million loan on Monday. The $50 million will rebuild "
                "pipes. Officials said $12 million of it is a grant for training.")
    assert {m.recipient for m in found} == {"TJ"}
    assert by_text(found, "$12 million").kind == "grant"


def test_lender_named_once_fills_later_mentions():
    found = fin("Kyrgyzstan water programme",
                "The Asian Development Bank approved the programme. Kyrgyzstan will receive $30 million in loans. "
                "A further $5 million grant will follow next year.")
    assert {m.lender for m in found} == {"adb"} and {m.recipient for m in found} == {"KG"}


def test_lender_states_are_not_recipients_and_debt_creditor_is_the_lender():
    found = fin("Uzbekistan borrows from China",
                "China lent $2 billion to Uzbekistan last year. External debt is $9 billion, of which $3 billion "
                "is owed to China.")
    owed = by_text(found, "$3 billion")
    assert owed.kind == "debt" and owed.lender == "CN" and owed.recipient == "UZ"


def test_it_refers_to_the_country_of_the_previous_sentence():
    found = fin("Kyrgyzstan and China", "Kyrgyzstan owes China $1.7 billion. Neighbouring Tajikistan is in a "
                "similar position. It owes China about $1.2 billion in loans.")
    assert by_text(found, "about $1.2 billion").recipient == "TJ"


def test_world_and_regional_totals_get_no_story_recipient():
    found = fin("Uzbekistan and Chinese loans",
                "China has committed over $1.3 trillion in loans in the world since 2000. Uzbekistan received "
                "$18 billion in loans from China.")
    assert by_text(found, "over $1.3 trillion").recipient is None
    assert by_text(found, "$18 billion").recipient == "UZ"


def test_equivalents_share_kind_and_parties_and_are_marked():
    found = fin("EBRD lends to Kazakhstan", "The EBRD will lend 2.2 billion tenge (€7 million equivalent) to "
                "Kazakhstan. Pakistan got a $1 billion oil facility, equivalent to around Rs290 billion.")
    tenge, euro = by_text(found, "2.2 billion tenge"), by_text(found, "€7 million")
    assert euro.equivalent_of == found.index(tenge)
    assert (euro.kind, euro.lender, euro.recipient) == (tenge.kind, tenge.lender, tenge.recipient) == \
        ("loan", "ebrd", "KZ")
    rupees = by_text(found, "around Rs290 billion")
    assert rupees.equivalent_of == found.index(by_text(found, "$1 billion")) and rupees.kind == "financing"


def test_kind_words_of_the_purpose_and_of_two_joined_flows():
    (m,) = fin("", "Russia will provide $100 million for Armenia to import weapons, officials said.")
    assert m.kind != "trade"
    (m,) = fin("", "Tajikistan returned from Beijing with nearly $310 million in grants and loans.")
    assert m.kind == "financing"
    (m,) = fin("", "The government decided to cut the budget by $1.4 billion.")
    assert m.kind == "other"
    (m,) = fin("", "Bilateral trade turnover reached $885 million in 2016.")
    assert m.kind == "trade"


def test_domestic_money_has_no_recipient():
    found = fin("Kazakhstan upgrades its water network",
                "The EBRD lends $20 million to Kazakhstan. The government of Kazakhstan is providing a grant of "
                "$5 million to the city.")
    own = by_text(found, "$5 million")
    assert own.recipient is None and own.kind == "financing"


def test_a_figure_repeated_for_the_same_flow_is_one_mention_but_another_flow_stays():
    found = fin("", "Russia wrote off $240 million of Kyrgyzstan's debt. Kyrgyzstan's debt to Russia had "
                "been $240 million. China invested $1.4 billion in the port and opened a $1.4 billion swap line.")
    assert [m.text for m in found].count("$240 million") == 1
    assert [m.kind for m in found if m.text == "$1.4 billion"] == ["investment", "financing"]
    assert all(m.repeat_of is None for m in found)


def test_a_rate_and_lakh_grouping():
    assert fin("", "(3,958.56 soums = $1 on July 1)") == []
    (m,) = fin("", "The firm will invest Rs 4,04,61,35,54,436 in the plant.")
    assert m.currency == "INR"


def test_money_received_to_lend_is_a_loan_and_deposits_placed_by_a_state_are_loans():
    found = fin("Kazakh banks get EIB money", "The Development Bank of Kazakhstan is getting €120 million to lend "
                "to small firms in the country.")
    assert by_text(found, "€120 million").kind == "loan"
    (m,) = fin("", "Of these deposits, $2 billion will mature in December.")
    assert m.kind == "loan"
    (m,) = fin("", "ADQ will convert $11 billion of deposits that will be utilized for investment in projects.")
    assert m.kind == "investment"


def test_thousands_of_amounts_in_one_sentence_are_each_read_in_a_window():
    text = "$1,000 million loan from China to Kazakhstan, " * 300
    found = fin("", text)
    assert len(found) == 1  # the same figure for the same flow: one mention
    assert (found[0].kind, found[0].lender, found[0].recipient) == ("loan", "CN", "KZ")
    varied = "".join(f"${n},000 million loan from China to Kazakhstan, " for n in range(1, 301))
    found = fin("", varied)
    assert len(found) == 300 and {(m.kind, m.lender, m.recipient) for m in found} == {("loan", "CN", "KZ")}


def test_runs_of_joined_capitals_are_no_organisations_and_do_not_stall():
    r = extract("", "Aaa-" * 5000 + " Bank of Nowhere said.")
    assert all(len(e.name) < 200 for e in r.entities)
