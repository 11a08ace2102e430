"""One digest e-mail per rule: plain text and HTML, every story field escaped, headers built safely."""
from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(value: str | None, limit: int = 300) -> str:
    """One line of text: control characters (CR, LF, ...) become spaces; long values are cut."""
    text = _CONTROL.sub(" ", value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def money(m: dict) -> tuple[str, str, str, str, str]:
    amount = m["amount"]
    for div, suffix in ((1e12, " tn"), (1e9, " bn"), (1e6, " m")):
        if amount >= div:
            shown = f"{amount / div:,.3g}{suffix}"
            break
    else:
        shown = f"{amount:,.0f}"
    if m.get("amount_max"):
        shown += f" – {m['amount_max']:,.3g}"
    usd = f"${m['usd'] / 1e6:,.1f} m" if m.get("usd") is not None else (m.get("usd_note") or "n/a")
    parties = f"{m.get('lender') or '?'} → {m.get('recipient') or '?'}"
    return (("~" if m.get("approx") else "") + shown, m["currency"], usd, m["kind"], parties)


def one_per_cluster(stories: list[dict]) -> list[dict]:
    """The stories with syndicated copies of an earlier one left out (each entry lists its cluster's outlets)."""
    seen: set[str] = set()
    out = []
    for s in stories:
        key = s.get("cluster_id") or s.get("id") or id(s)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def build_digest(rule, stories: list[dict], sender: str) -> EmailMessage:
    stories = one_per_cluster(stories)
    n = len(stories)
    msg = EmailMessage()
    msg["Subject"] = clean(f"[newswatch] {rule.name}: {n} new {'story' if n == 1 else 'stories'}", 200)
    msg["From"] = sender
    msg["To"] = ", ".join(rule.recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="newswatch.local")
    msg["X-Newswatch-Rule"] = rule.name
    text_lines = [f"{n} new {'story matches' if n == 1 else 'stories match'} the rule '{rule.name}'."
                  + (f" ({clean(rule.description)})" if rule.description else ""), ""]
    parts = [f"<p>{n} new {'story matches' if n == 1 else 'stories match'} the rule <b>{html.escape(rule.name)}</b>"
             + (f" — {html.escape(clean(rule.description))}" if rule.description else "") + ".</p>"]
    for s in stories:
        title = clean(s.get("title")) or "(untitled)"
        url = clean(s.get("url") or s.get("canonical_url"), 2000)
        meta = " · ".join(x for x in (clean(s.get("site")), (s.get("published_at") or "")[:10],
                                      " ".join(s.get("countries") or [])) if x)
        text_lines += [f"* {title}", f"  {url}", f"  {meta}"]
        parts.append(f'<h3><a href="{html.escape(url, quote=True)}">{html.escape(title)}</a></h3>'
                     f"<p>{html.escape(meta)}</p>")
        if (s.get("cluster_size") or 1) > 1:  # syndicated copies: one entry, every outlet
            sites = ", ".join(clean(x, 100) for x in s.get("cluster_sites") or [])
            others = [clean(u, 2000) for u in s.get("cluster_urls") or [] if clean(u, 2000) != url]
            text_lines.append(f"  carried by {s['cluster_size']} outlets: {sites}")
            text_lines += [f"    {u}" for u in others]
            parts.append(f"<p>carried by {s['cluster_size']} outlets: {html.escape(sites)}<br>"
                         + "<br>".join(f'<a href="{html.escape(u, quote=True)}">{html.escape(u)}</a>' for u in others)
                         + "</p>")
        finance = s.get("finance") or []
        if finance:
            rows = []
            for m in finance[:12]:
                amount, cur, usd, kind, parties = money(m)
                text_lines.append(f"    {amount} {cur} ({usd}) {kind} {parties}")
                text_lines.append(f"      \"{clean(m.get('sentence'), 400)}\"")
                rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in (amount, cur, usd, kind, parties))
                            + f"<td><i>{html.escape(clean(m.get('sentence'), 400))}</i></td></tr>")
            parts.append('<table border="1" cellpadding="4" cellspacing="0"><tr><th>amount</th><th>currency</th>'
                         "<th>USD</th><th>kind</th><th>lender → recipient</th><th>sentence</th></tr>"
                         + "".join(rows) + "</table>")
        text_lines.append("")
    msg.set_content("\n".join(text_lines))
    msg.add_alternative("<html><body>" + "".join(parts) + "</body></html>", subtype="html")
    return msg
