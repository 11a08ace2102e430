"""The Russian money grammar (newswatch.extraction.ru.money): pure functions, plain unit tests."""
from __future__ import annotations

import pytest

from newswatch.extraction.ru.money import find_money


def one(text: str):
    got = find_money(text)
    assert len(got) == 1, (text, got)
    return got[0]


@pytest.mark.parametrize("text, surface, amount, currency", [
    ("Китай выделит Кыргызстану $100 млн на дороги", "$100 млн", 1e8, "USD"),
    ("кредит в 1 млрд юаней", "1 млрд юаней", 1e9, "CNY"),
    ("бюджет получит 13 млрд сомов", "13 млрд сомов", 13e9, "KGS"),
    ("соглашение на 1 млрд 700 млн долларов", "1 млрд 700 млн долларов", 1.7e9, "USD"),
    ("инвестиции в 10 млрд 99 млн долларов", "10 млрд 99 млн долларов", 10.099e9, "USD"),
    ("грант в $7,9 млн", "$7,9 млн", 7.9e6, "USD"),
    ("выделено 120,9 миллиона долларов", "120,9 миллиона долларов", 120.9e6, "USD"),
    ("помощь в 500 тыс. тенге каждой семье", "500 тыс. тенге", 5e5, "KZT"),
    ("вложит три миллиарда долларов", "три миллиарда долларов", 3e9, "USD"),
    ("кредит на полтора миллиарда рублей", "полтора миллиарда рублей", 1.5e9, "RUB?"),
    ("двадцать пять миллионов долларов на школы", "двадцать пять миллионов долларов", 25e6, "USD"),
    ("около полмиллиарда евро", "около полмиллиарда евро", 5e8, "EUR"),
    ("Т330 млрд займет Казахстан", "Т330 млрд", 330e9, "KZT"),
    ("долг в 660 млн. долларов по процентам", "660 млн. долларов", 660e6, "USD"),
    ("кредит в 105 миллиардов российских рублей", "105 миллиардов российских рублей", 105e9, "RUB"),
    ("200 млн белорусских рублей", "200 млн белорусских рублей", 2e8, "BYN"),
    ("5 млрд азербайджанских манатов", "5 млрд азербайджанских манатов", 5e9, "AZN"),
    ("до 323 млн японских йен", "до 323 млн японских йен", 323e6, "JPY"),
    ("100 млн долларов США", "100 млн долларов США", 1e8, "USD"),
    ("12 млрд сумов", "12 млрд сумов", 12e9, "UZS"),
    ("2 млн сум", "2 млн сум", 2e6, "UZS"),
    ("30 млн сомони", "30 млн сомони", 30e6, "TJS"),
    ("1,5 млрд манатов", "1,5 млрд манатов", 1.5e9, "MANAT?"),
    ("миллиард долларов инвестиций", "миллиард долларов", 1e9, "USD"),
    ("USD 100 млн", "USD 100 млн", 1e8, "USD"),
    ("€40 млн", "€40 млн", 4e7, "EUR"),
    ("контракт на $2 500 000", "$2 500 000", 2.5e6, "USD"),
    ("1 500 000 евро", "1 500 000 евро", 1.5e6, "EUR"),
])
def test_amounts(text, surface, amount, currency):
    m = one(text)
    assert (m.text, m.amount, m.currency) == (surface, pytest.approx(amount), currency)
    assert text[m.start:m.end] == m.text


@pytest.mark.parametrize("text, surface", [
    ("около 190 млн сомов", "около 190 млн сомов"),
    ("порядка Т40 млрд", "порядка Т40 млрд"),
    ("почти $2 млрд", "почти $2 млрд"),
    ("свыше 1,69 млрд рублей", "свыше 1,69 млрд рублей"),
    ("более 17,97 млрд рублей", "более 17,97 млрд рублей"),
    ("до 400 миллионов евро", "до 400 миллионов евро"),
    ("стоимость оценивается в $1 млрд 250 млн", "оценивается в $1 млрд 250 млн"),
    ("сотни миллионов долларов", "сотни миллионов долларов"),
])
def test_hedges_are_approximate_and_part_of_the_surface(text, surface):
    m = one(text)
    assert m.approx and m.text == surface


def test_an_equivalent_is_approximate_only_with_its_own_hedge():
    yen, som, usd = find_money("грант до 323 млн японских йен (около 190 млн сомов или $2,4 млн)")
    assert yen.approx and yen.currency == "JPY"
    assert som.approx and som.currency == "KGS"
    assert not usd.approx and usd.amount == 2.4e6


@pytest.mark.parametrize("text, low, high", [
    ("50–60 миллионов долларов", 50e6, 60e6),
    ("от 50 до 60 млн долларов", 50e6, 60e6),
    ("$3-5 млрд", 3e9, 5e9),
    ("1,5–2 млрд евро", 1.5e9, 2e9),
])
def test_ranges(text, low, high):
    m = one(text)
    assert (m.amount, m.amount_max) == (pytest.approx(low), pytest.approx(high))


def test_a_change_is_two_amounts_not_a_range_or_a_hedge():
    got = find_money("товарооборот вырос с $3 млрд до $5 млрд")
    assert [(m.amount, m.amount_max, m.approx) for m in got] == [(3e9, None, False), (5e9, None, False)]


@pytest.mark.parametrize("text", [
    "экспорт 9 млн тонн зерна", "рост на 2,4%", "для 60 тысяч жителей", "в 2025 году", "10 тысяч доз вакцины",
    "население 7 млн человек", "1 USD = 10,9176 сомони", "USD 87.45", "USD 12 650,00", "EUR 101.91",
    "курс 68,5 сома", "обед за 20 сомов", "нефть по $80 за баррель", "газ по $250 за 1000 кубометров",
    "зарплата 5000 сомов в месяц", "курс доллара составил 87 сомов", "Т34", "35-ти километровый",
    "45 долларов", "3:1", "12.11.2025 17:37",
])
def test_not_money(text):
    assert find_money(text) == []


def test_every_case_form_of_a_currency():
    for form in ("доллар", "доллара", "долларов", "долларам", "долларами", "долларах"):
        assert one(f"100 млн {form}").currency == "USD", form
    for form in ("сом", "сома", "сомов", "сомам", "сомами"):
        assert one(f"100 млн {form}").currency == "KGS", form
    for form in ("юань", "юаня", "юаней", "юанями"):
        assert one(f"100 млн {form}").currency == "CNY", form
    for form in ("рубль", "рубля", "рублей", "рублями"):
        assert one(f"100 млн {form}").currency == "RUB?", form
    for form in ("иен", "йен", "иенами", "йенах"):
        assert one(f"100 млн {form}").currency == "JPY", form


def test_the_sentence_full_stop_is_not_part_of_the_amount():
    assert one("подписали соглашения на $629 млн. Инвесторы").text == "$629 млн"
