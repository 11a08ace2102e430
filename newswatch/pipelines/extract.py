"""The extract stage: a fetched page's bytes -> its main text and metadata (``article``), or a dead letter.

A pure function run inline or in the extraction workers (:mod:`.cpu_pool`); it must not import Beam.
"""
from __future__ import annotations

from ..charsets import text_codec
from .budget import OverBudget, PageBudget
from .outputs import DEAD, MAIN, dead_letter


def decode_html(body: bytes, declared: str | None) -> str | bytes:
    """Valid UTF-8 wins (declared charsets are often wrong), then the declared charset, then detection. Never
    raises: a charset that cannot decode the page counts as none declared."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = text_codec(declared)
    if codec:
        try:
            return body.decode(codec, errors="replace")
        except (UnicodeError, LookupError, ValueError, TypeError):
            pass
    return body  # trafilatura detects the encoding from the bytes and any <meta charset>


def extract_page(page: dict, min_chars: int, limits: PageBudget | None = None) -> tuple[str, dict]:
    """Fetched page -> the page with its ``article`` (main text and metadata), or an ``extract`` dead letter;
    ``limits``: the page's budget (:mod:`.budget`; its defaults when None)."""
    from ..extraction import html_to_article

    limits = limits or PageBudget()
    try:
        body = page.pop("html")
        limits.check_size(body)
        with limits.limits():
            html = decode_html(body, page.pop("charset", None))
            article = html_to_article(html, url=page["url"], min_chars=min_chars, author_hint=page.get("author"),
                                      lang_hint=page.get("lang"))
    except OverBudget as exc:
        return DEAD, dead_letter("extract", page, str(exc), f"over_budget_{exc.kind}")
    except Exception as exc:  # noqa: BLE001 - any page may break a parser in its own way: a dead letter, never a lost run
        return DEAD, dead_letter("extract", page, f"{type(exc).__name__}: {exc}", "extract_exception")
    text = ((article or {}).get("text") or "").strip()
    if len(text) < min_chars:
        return DEAD, dead_letter("extract", page, f"no extractable main text ({len(text)} characters found, "
                                                  f"at least {min_chars} needed)", "no_text")
    page["article"] = article
    return MAIN, page
