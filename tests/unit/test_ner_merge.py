"""The merge of a recogniser's spans with the gazetteer (pure: spans written by the test)."""
from __future__ import annotations

from newswatch.extraction import extract, full_text
from newswatch.extraction.ner import bylines, span, stable_id


def _spans(text: str, *named: tuple[str, str]):
    out = []
    for words, label, *nth in named:
        start = -1
        for _ in range((nth or [1])[0]):
            start = text.index(words, start + 1)
        out.append(span(text, start, start + len(words), label))
    return out


def _names(res):
    return {(e.type, e.id): e for e in res.entities}


def test_new_names_get_stable_ids_and_join_surnames_and_acronyms():
    title, body = "Talks in Bishkek", ("Aibek Toktogulov, head of the Naryn Water Agency (NWA), met the World "
                                       "Bank on Monday. Toktogulov said the NWA would report in May.")
    text = full_text(title, body)
    res = extract(title, body, ner_spans=_spans(text, ("Aibek Toktogulov", "PERSON"),
                                                ("Naryn Water Agency", "ORGANIZATION"), ("Toktogulov", "PER", 2)))
    names = _names(res)
    person = names[("person", "aibek-toktogulov")]
    assert person.count == 2
    agency = names[("org", "naryn-water-agency")]
    assert "NWA" in agency.surface_forms and agency.count == 3
    assert ("org", "world-bank") in names, "the gazetteer's entity stays, with its id"
    assert stable_id("Naryn Water Agency") == stable_id("NARYN water agency")


def test_a_lone_first_name_and_a_headline_capital_are_not_names():
    title, body = "Oil Tumbles As Markets Slide", "Analysts said Gulnara expected more. Prices fell."
    text = full_text(title, body)
    res = extract(title, body, ner_spans=_spans(text, ("Oil Tumbles", "PER"), ("Gulnara", "PER")))
    assert not [e for e in res.entities if e.type == "person"]


def test_spans_veto_a_country_inside_another_name_but_never_add_one():
    title, body = "", "The report was published in the Russian-language press. Officials met in Paris 2024 venues."
    text = full_text(title, body)
    rules = extract(title, body)
    res = extract(title, body, ner_spans=_spans(text, ("Russian-language", "MISC"), ("Paris 2024", "MISC"),
                                                ("Officials", "LOC")))
    assert "RU" in rules.countries and "FR" not in rules.countries  # "Paris 2024", an event: dropped by rule
    assert "RU" not in res.countries and "FR" not in res.countries
    compound = full_text("", "A Russian-Kyrgyz fund was set up.")
    both = extract("", "A Russian-Kyrgyz fund was set up.", ner_spans=_spans(compound, ("Russian-Kyrgyz", "MISC")))
    assert {"RU", "KG"} <= set(both.countries), "a compound of two places vetoes neither"


def test_legal_forms_titles_and_projects():
    title, body = "", ("Toyo Engineering Corp will build it, Prince Abdulaziz bin Salman said. The Dhaka Mass "
                       "Transit Project (IV) is separate.")
    text = full_text(title, body)
    res = extract(title, body, ner_spans=_spans(text, ("Toyo Engineering Corp", "ORG"),
                                                ("Prince Abdulaziz bin Salman", "PER"),
                                                ("Dhaka Mass Transit Project", "ORG")))
    names = {e.name for e in res.entities}
    assert "Toyo Engineering" in names and "Abdulaziz bin Salman" in names
    assert not any("Project" in n for n in names)


def test_bylines():
    assert bylines("By Nathan Gill and Li Jiayao") == ["Nathan Gill", "Li Jiayao"]
    assert bylines("Reuters Staff") == [] and bylines(None) == []
