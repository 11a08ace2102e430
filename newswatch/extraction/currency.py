"""The ISO code of an ambiguous currency sign (¥, Rs) from the words next to it, the source and the story."""
from __future__ import annotations

import re
from typing import Callable

from ._regex import Gated
from .entities import Mention

def _resolve_currency(cur: str, text: str, start: int, end: int, context: Callable[[], dict]) -> str:
    """The ISO code of an ambiguous symbol; ``context()`` (computed only when needed) gives the source clues."""
    if cur == "JPY?":  # ¥: yen in a Japanese source or next to "yen", yuan next to yuan/RMB or in Chinese context
        near = text[max(0, start - 30):end + 30].lower()
        if "yuan" in near or "rmb" in near or "renminbi" in near:
            return "CNY"
        if "yen" in near:
            return "JPY"
        clues = context()
        if clues.get("japanese_source"):
            return "JPY"
        if clues.get("chinese_source"):
            return "CNY"
        return "JPY" if clues["jp_score"] >= clues["cn_score"] else "CNY"
    if cur == "Rs":
        clues = context()
        indian = 1 if INDIAN_GROUPING.search(text, start, end) else 0  # "Rs 4,04,61,35,54,436": lakh grouping
        return "INR" if clues["in_score"] + indian > clues["pk_score"] else "PKR"
    return cur


# a story credited to or published by a Japanese / Chinese outlet ("(The Yomiuri Shimbun)", "Xinhua reported")
JAPANESE_MEDIA = Gated(re.compile(r"\b(?:Yomiuri Shimbun|The Japan News|Japan Times|Asahi Shimbun|Mainichi Shimbun|"
                                  r"Kyodo News|Nikkei Asia|NHK World)\b"))
CHINESE_MEDIA = Gated(re.compile(r"\b(?:Xinhua|China Daily|Global Times|CGTN|People's Daily|South China Morning Post)\b"))
JAPANESE_WORDS = Gated(re.compile(r"\b(?:yen|Nikkei|Topix)\b"))
CHINESE_WORDS = Gated(re.compile(r"\b(?:yuan|renminbi|RMB)\b"))
INDIAN_GROUPING = re.compile(r"\d,\d\d,\d")
INDIAN_WORDS = Gated(re.compile(r"\b(?:crore|lakh)\b"))


def source_context(text: str, site: str | None, lang: str | None, mentions: list[Mention] = ()) -> dict:
    """Clues for ambiguous symbols: the source (site, language) and how much the text is about which country."""
    src = (site or "").lower()
    by_country = {"JP": 0, "CN": 0, "PK": 0, "IN": 0}
    for m in mentions:
        code = m.ref.id if m.ref.type == "country" else m.ref.country
        if code in by_country:
            by_country[code] += 1
    return {
        "japanese_source": (lang or "").startswith("ja") or any(k in src for k in (
            "japan", "yomiuri", "nikkei", "asahi", "mainichi", "kyodo", ".jp", "nhk")) or " JST" in text
        or JAPANESE_MEDIA.search(text) is not None,
        "chinese_source": (lang or "").startswith("zh") or any(k in src for k in (
            "xinhua", "china", "cgtn", "globaltimes", ".cn", "people.com")) or CHINESE_MEDIA.search(text) is not None,
        "jp_score": by_country["JP"] + len(JAPANESE_WORDS.findall(text)),
        "cn_score": by_country["CN"] + len(CHINESE_WORDS.findall(text)),
        "pk_score": by_country["PK"],
        "in_score": by_country["IN"] + len(INDIAN_WORDS.findall(text)),
    }

