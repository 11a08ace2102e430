"""What people read, written one way everywhere (alert digest, CLI tables, exports): money, parties, links,
outlets."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
TRACKING = ("utm_", "fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "igshid")


def _number(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    text = f"{x:.3g}"
    return f"{float(text):,.0f}" if "e" in text else text


def scaled(amount: float, amount_max: float | None = None) -> str:
    """'250 million', '1.5–2 billion', '25,000' (the scale of the larger bound)."""
    top = max(amount, amount_max or 0)
    for div, word in _SCALES:
        if top >= div * 0.9995:  # 999.7 million reads as 1 billion
            low = _number(amount / div)
            return f"{low}–{_number(amount_max / div)} {word}" if amount_max else f"{low} {word}"
    return f"{amount:,.0f}–{amount_max:,.0f}" if amount_max else f"{amount:,.0f}"


def amount_text(m: dict) -> str:
    """A mention's amount as written in its currency: 'USD 250 million', '~KZT 45 billion', 'EUR 3–5 million'."""
    return f"{'~' if m.get('approx') else ''}{m['currency']} {scaled(m['amount'], m.get('amount_max'))}"


def usd_text(m: dict) -> str:
    """A mention's USD value: '$250 million', '$1.1–2.2 billion' for a range; '' when unknown."""
    usd = m.get("usd")
    if usd is None:
        return ""
    top = usd * m["amount_max"] / m["amount"] if m.get("amount_max") and m.get("amount") else None
    return f"{'~' if m.get('approx') else ''}${scaled(usd, top)}"


def usd_or_why(m: dict) -> str:
    """The USD value, or why there is none ('USD value unknown: rate not yet available: ...')."""
    return usd_text(m) or f"USD value unknown{': ' + m['usd_note'] if m.get('usd_note') else ''}"


def usd_total(value: float | None) -> str:
    return f"${scaled(value)}" if value is not None else "no USD value"


def parties_text(m: dict) -> str:
    """'Export-Import Bank of China (CN) → TJ'; '?' for a party nobody named."""
    lender = m.get("lender_name") or m.get("lender")
    if lender and m.get("lender_country") and m.get("lender_country") != m.get("lender"):
        lender = f"{lender} ({m['lender_country']})"
    return f"{lender or '?'} → {m.get('recipient') or '?'}"


def mention_text(m: dict) -> str:
    """One line: 'KZT 45 billion ≈ $94.2 million, financing, ? → KZ'."""
    if m["currency"] == "USD":
        usd = ""
    elif m.get("usd") is not None:
        usd = f" ≈ {usd_text(m)}"
    else:
        usd = f" ({usd_or_why(m)})"
    return f"{amount_text(m)}{usd}, {m['kind']}, {parties_text(m)}"


def reading_order(finance) -> list[tuple[str, dict]]:
    """A story's money as people should read it: ("deal", m) first, then ("background", m) for debt stocks,
    trade, market figures, reserves...; equivalents and repeats of a figure already listed are left out."""
    from .schemas.deals import is_deal

    finance = finance or []
    deals = [m for m in finance if is_deal(m)]
    background = [m for m in finance if not is_deal(m) and m.get("equivalent_of") is None
                  and m.get("repeat_of") is None]
    return [("deal", m) for m in deals] + [("background", m) for m in background]


def clean_link(url: str | None) -> str:
    """``url`` without tracking parameters (utm_*, fbclid, ...)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith(TRACKING)]
    return urlunsplit(parts._replace(query=urlencode(kept, doseq=True)))


def outlet(story: dict) -> str:
    """The outlet's name for a reader: ``source_name``, else the site (older documents)."""
    return story.get("source_name") or story.get("site") or ""
