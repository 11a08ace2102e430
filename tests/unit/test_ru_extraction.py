"""Russian-language stories: language detection, countries and names in any case form with the English ids, kinds
and parties from the sentence, the dev-ru gold as a floor. natasha's real models run here (no mocks)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from newswatch.extraction import extract, html_to_article
from newswatch.extraction.lang import detect, normalize


def ru(text: str, title: str = "", **kw):
    return extract(title, text, lang="ru", **kw)


# ---------------------------------------------------------------- language


def test_language_the_page_says_when_it_fits_the_script():
    russian = "Россия выделит Беларуси кредит в 105 миллиардов российских рублей, сообщает пресс-служба."
    assert detect(russian, "ru") == "ru"
    assert detect(russian, "en") == "ru"  # an English site template over a Russian story: detected
    assert detect(russian, None, hint="ru") == "ru"  # the feed's lang
    assert detect(russian) == "ru"  # py3langid
    english = "Kazakhstan received a $100 million loan from the Asian Development Bank, officials said."
    assert detect(english, "en-US") == "en" and detect(english, "ru") == "en" and detect(english, None, "ru") == "en"
    assert normalize("ru-RU") == "ru" and normalize("rus") == "ru" and normalize("??") is None


def test_pages_without_lang_are_detected_from_their_text(fixtures_dir):
    pages = fixtures_dir / "dev-ru" / "articles"
    for page in sorted(pages.glob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert html_to_article(html)["lang"] == "ru", page.name
    unmarked = [p for p in pages.glob("*.html") if "<html lang" not in p.read_text(encoding="utf-8")]
    assert len(unmarked) >= 3


def test_english_stories_never_load_the_russian_models():
    code = ("import sys\nfrom newswatch.extraction import extract\n"
            "r = extract('Loan', 'Kazakhstan received a $100 million loan from the Asian Development Bank.')\n"
            "assert r.countries == ['KZ'] and 'natasha' not in sys.modules and 'pymorphy3' not in sys.modules\n"
            "extract('Кредит', 'Казахстан получит кредит.', lang='ru')\n"
            "assert 'natasha' in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


# ---------------------------------------------------------------- countries and names


@pytest.mark.parametrize("text, code", [
    ("Китай выделит Кыргызстану грант.", "KG"),
    ("Россия списала долг Киргизии.", "KG"),
    ("Делегация Кыргызской Республики прибыла в Анкару.", "KG"),
    ("Правительство КНР одобрило проект.", "CN"),
    ("Поднебесная расширяет присутствие в регионе.", "CN"),
    ("Переговоры с Пекином продолжатся.", "CN"),
    ("Об этом заявили в Москве.", "RU"),
    ("Кремлём это не комментировалось.", "RU"),
    ("Казахстанский бизнес выходит на новые рынки.", "KZ"),
    ("министр инвестиций РК заявил", "KZ"),
    ("Эмиратами подписан меморандум.", "AE"),
    ("Матч прошёл в Бишкеке.", "KG"),
])
def test_countries_in_any_case_form(text, code):
    assert code in ru(text).countries


def test_a_currency_is_not_a_country():
    r = ru("Япония выделит до 323 млн японских йен, или 5 млн долларов США, Киргизии.")
    assert "US" not in r.countries and r.countries == ["JP", "KG"]
    assert "JP" not in ru("Кредит в 300 млн японских йен получит Киргизия.").countries


def test_names_get_the_english_ids_in_any_case_form():
    r = ru("Экспортно-импортным банком Китая выдан кредит. Садыру Жапарову доложили о проекте.")
    en = extract("", "The Export-Import Bank of China lent more, Sadyr Japarov said.")
    assert set(r.orgs) == set(en.orgs) == {"exim-china"}
    assert set(r.people) == set(en.people) == {"japarov"}
    assert "CN" in r.countries  # the bank of a state makes the state involved, as in English
    assert ru("Эксимбанк Китая и Эксимбанком Китая").orgs == ["exim-china"]


# ---------------------------------------------------------------- finance facts


@pytest.mark.parametrize("text, kind, lender, recipient", [
    ("Китай выделит Кыргызстану кредит в $100 млн на строительство дороги.", "loan", "CN", "KG"),
    ("АБР одобрил грант в $20 млн для Таджикистана.", "grant", "adb", "TJ"),
    ("Проект на $50 млн будет реализован за счёт средств Всемирного банка в Узбекистане.", "financing", "world-bank",
     "UZ"),
    ("Со стороны Японии Туркменистану будет предоставлено 10 млн долларов безвозмездной помощи.", "grant", "JP",
     "TM"),
    ("Казахстан привлечёт заём в 200 млн евро у ЕБРР.", "loan", "ebrd", "KZ"),
    ("Россия списала Киргизии долг в $240 млн.", "debt", "RU", "KG"),
    ("Саудовским фондом развития Республике Таджикистан выделено 306 миллионов долларов в виде льготных кредитов.",
     "loan", "saudi-fund", "TJ"),
])
def test_kind_and_parties_from_the_sentence(text, kind, lender, recipient):
    (m,) = ru(text, published=date(2025, 1, 15)).finance
    assert (m.kind, m.lender, m.recipient) == (kind, lender, recipient)


def test_an_equivalent_in_brackets_is_its_own_mention_of_the_same_flow():
    r = ru("Правительство КНР предоставит Узбекистану безвозмездную помощь в размере 250 млн юаней ($37,5 млн).",
           published=date(2019, 5, 24))
    yuan, usd = r.finance
    assert (yuan.currency, usd.currency) == ("CNY", "USD")
    assert {(m.kind, m.lender, m.recipient) for m in r.finance} == {("grant", "CN", "UZ")}
    assert usd.usd == 37.5e6 and yuan.usd is not None  # ECB rates for CNY at the publication date


def test_currency_by_context():
    assert [m.currency for m in ru("Минск получит 5 млрд рублей из бюджета Беларуси.").finance] == ["BYN"]
    assert [m.currency for m in ru("Россия выделит 5 млрд рублей Киргизии.").finance] == ["RUB"]
    assert [m.currency for m in ru("Туркменистан направит 300 млн манатов на дороги.").finance] == ["TMT"]
    assert [m.currency for m in ru("Азербайджан направит 300 млн манатов на дороги Баку.").finance] == ["AZN"]


def test_a_shortfall_is_not_a_flow():
    assert ru("Нехватка средств в бюджете Киргизии достигала 21,57 млрд сомов.").finance == []


# ---------------------------------------------------------------- the dev-ru gold as a floor


def test_dev_ru_gold(fixtures_dir):
    from newswatch.evaluation import evaluate

    rep = evaluate(fixtures_dir / "dev-ru" / "gold.json", fixtures_dir / "dev-ru" / "articles")
    m = rep.metrics()
    assert m["country_precision"] >= 0.95 and m["country_recall"] >= 0.95, rep.lines
    assert m["finance_recall"] >= 0.9 and m["finance_precision"] >= 0.95, rep.lines
    assert m["currency_accuracy"] >= 0.98 and m["kind_accuracy"] >= 0.8, rep.lines
    assert m["recipient_accuracy"] >= 0.8 and m["lender_accuracy"] >= 0.75, rep.lines
    assert m["alert_accuracy"] >= 0.95 and m["org_recall"] >= 0.75, rep.lines
    assert rep.violations == []
    gold = json.loads((fixtures_dir / "dev-ru" / "gold.json").read_text(encoding="utf-8"))
    assert rep.finance.tp + rep.finance.fn == sum(len(a["finance"]) for a in gold["articles"].values())


# ---------------------------------------------------------------- schema, rules, feeds


def test_a_russian_stemmed_sub_field_only_where_the_cluster_has_the_analyzer():
    from newswatch.schemas.mapping import story_mappings

    full = story_mappings(frozenset({"russian"}))["properties"]
    assert full["text"]["fields"]["ru"] == {"type": "text", "analyzer": "russian"}
    assert full["title"]["fields"]["ru"]["analyzer"] == "russian" and "keyword" in full["title"]["fields"]
    minimal = story_mappings()["properties"]
    assert "fields" not in minimal["text"] and set(minimal["title"]["fields"]) == {"keyword"}


def test_russian_keywords_match_every_case_form():
    from newswatch.alerting.rules import keyword_forms, load_rules

    assert {"кредита", "кредитами", "кредитов"} <= set(keyword_forms("кредит"))
    assert {"безвозмездной помощи", "безвозмездную помощь"} <= set(keyword_forms("безвозмездная помощь"))
    assert keyword_forms("loans") == ("loans",)
    rule = next(r for r in load_rules() if r.name == "central-asia-financing")
    story = {"countries": ["KZ"], "title": "", "text": "Казахстан рассчитывает на новые кредиты Китая", "finance": []}
    assert rule.matches(story)
    assert not rule.matches({**story, "countries": ["BY"]})
    assert not rule.matches({**story, "text": "Казахстан и Китай обсудили туризм"})


def test_feed_lang_is_read_and_checked(tmp_path):
    from newswatch.connectors.feeds import load_feed_list

    good = tmp_path / "feeds.yaml"
    good.write_text("feeds:\n  - {url: 'https://24.kg/rss/', lang: RU}\n  - {url: 'https://example.org/f'}\n")
    assert [s.lang for s in load_feed_list(good)] == ["ru", None]
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - {url: 'https://24.kg/rss/', lang: russian language}\n")
    with pytest.raises(ValueError, match="'lang' must be a language code"):
        load_feed_list(bad)


# ---------------------------------------------------------------- natasha's names, for the NER merge


def test_ner_spans_have_one_key_whatever_the_case_form():
    from newswatch.extraction.ru.entities import ner_spans
    from newswatch.extraction.ru.nlp import analyze

    def spans(text):
        return [(s.label, s.lemma) for s in ner_spans(analyze(text))]

    forms = ["Встреча с Мухаммадом Аль-Масъудом прошла.", "Мухаммад Аль-Масъуд заявил.", "Письмо Мухаммаду Аль-Масъуду."]
    assert {tuple(spans(t)) for t in forms} == {(("PER", "мухаммад аль-масъуд"),)}
    assert spans("Голы Валерия Кичина.") == spans("Валерий Кичин забил.") == [("PER", "валерий кичин")]
    (org, loc) = ner_spans(analyze("Сообщили в Министерстве инвестиций Узбекистана."))
    assert (org.label, org.text, org.normal) == ("ORG", "Министерстве инвестиций", "Министерство инвестиций")
    assert (loc.label, loc.normal) == ("LOC", "Узбекистан")
    text = "Хоким Холикзода встретился с делегацией."
    (per,) = ner_spans(analyze(text))
    assert text[per.start:per.end] == per.text == "Хоким Холикзода"
