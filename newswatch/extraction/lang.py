"""The language of a story: the page's own ``lang`` when it fits the text's script, else the feed's ``lang`` when it
does, else py3langid on the text (its model is loaded on first use, about 0.8 s, only in a process that meets a
page that says nothing plausible about itself).

"Plausible" is about the script: a page marked ``en`` whose text is Cyrillic (a site template in English over
Russian stories) is not English, and a page marked ``ru`` whose text is Latin is not Russian; between the
languages written in Cyrillic the text decides (py3langid).
"""
from __future__ import annotations

import re

# languages written in Cyrillic (a page or feed saying one of these is plausible only over Cyrillic text)
CYRILLIC = frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn", "ba", "tt", "cv", "os", "ce"})
_CYR = re.compile(r"[\u0400-\u04ff]")
_LAT = re.compile(r"[A-Za-z\u00c0-\u024f]")
SAMPLE = 2000  # characters of the text looked at
_CODE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def normalize(code: str | None) -> str | None:
    """'ru-RU' -> 'ru', 'EN' -> 'en', 'rus' -> 'ru'; None for anything that is no language code."""
    if not code:
        return None
    m = _CODE.match(code.strip())
    if not m:
        return None
    c = m.group(1).lower()
    if len(c) == 3:
        import pycountry

        lang = pycountry.languages.get(alpha_3=c)
        return getattr(lang, "alpha_2", None) if lang else None
    return c


def cyrillic_share(text: str) -> float | None:
    """Share of Cyrillic among the Cyrillic and Latin letters of ``text`` (None: it has neither)."""
    sample = text[:SAMPLE]
    cyr, lat = len(_CYR.findall(sample)), len(_LAT.findall(sample))
    return cyr / (cyr + lat) if cyr + lat else None


def plausible(code: str, share: float | None) -> bool:
    if share is None:
        return True
    return share >= 0.5 if code in CYRILLIC else share < 0.3


def detect(text: str, declared: str | None = None, hint: str | None = None) -> str | None:
    """The story's language code (ISO 639-1) from its text, the page's ``declared`` language and the feed's
    ``hint``."""
    share = cyrillic_share(text or "")
    for code in (normalize(declared), normalize(hint)):
        if code and plausible(code, share):
            if code in CYRILLIC and len(text) >= 200:
                # Russian, Kazakh, Kyrgyz, Tajik... share the script, and sites of the region mark one for all
                # (a Kyrgyz story on a page marked ru): the text decides between them
                found = classify(text[:SAMPLE])
                return found if found in CYRILLIC else code
            return code
    if share is None:
        return None
    return classify(text[:SAMPLE])


def classify(text: str) -> str:
    import py3langid

    from ._blas import one_thread

    one_thread()
    return py3langid.classify(text)[0]
