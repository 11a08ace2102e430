"""Place names that are not a state acting: part of a currency's name ("U.S. dollars", "$US", "Saudi riyals"), a
company's base ("a London-based bank") or an event's name ("Paris 2024", "Tokyo 2020 Olympics")."""
from __future__ import annotations

import re

from .entities import Mention

CURRENCY_AFTER = re.compile(r"[\s-]*(?:dollars?|cents|riyals?|rupees?|dirhams?|yuan|yen|pounds?|francs?|pesos?|"
                            r"won|lira|manats?|roubles?|rubles?|tenge|soms?|soums?)\b")
BASED_AFTER = re.compile(r"-based\b")
YEAR_AFTER = re.compile(r"\s(?:19|20)\d\d\b(?![.,]\d)")


def is_actor(full: str, m: Mention) -> bool:
    """Whether the place mention ``m`` of ``full`` can stand for its state."""
    after = full[m.end:m.end + 20]
    if CURRENCY_AFTER.match(after) or full[max(0, m.start - 1):m.start] == "$":
        return False
    if BASED_AFTER.match(after):
        return False
    # an event named after its host city and year; a country before a year is still the country ("Russia 2024")
    return not (YEAR_AFTER.match(after) and m.surface != m.ref.name and not m.surface.isupper())


def drop_non_actors(full: str, mentions: list[Mention]) -> list[Mention]:
    return [m for m in mentions if m.ref.type != "country" or is_actor(full, m)]
