"""One digest e-mail per rule: plain text and HTML, every story field escaped, headers built safely."""
from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..formatting import (amount_text, clean_link, mention_text, outlet, parties_text, reading_order,
                          usd_or_why, usd_total)
from ..schemas.deals import is_deal

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(value: str | None, limit: int = 300) -> str:
    """One line of text: control characters (CR, LF, ...) become spaces; long values are cut."""
    text = _CONTROL.sub(" ", value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_line(stories: list[dict]) -> str:
    """'3 stories · 4 deals, $1.1 billion: KG $250 million, TM $423 million, recipient unknown $436 million'."""
    by_recipient: dict[str, float] = {}
    n_deals = no_usd = 0
    for s in stories:
        for m in s.get("finance") or []:
            if not is_deal(m):
                continue
            n_deals += 1
            if m.get("usd") is None:
                no_usd += 1
                continue
            key = m.get("recipient") or "recipient unknown"
            by_recipient[key] = by_recipient.get(key, 0.0) + m["usd"]
    line = f"{len(stories)} {'story' if len(stories) == 1 else 'stories'} · {n_deals} " \
           f"{'deal' if n_deals == 1 else 'deals'}"
    if by_recipient:
        parts = [f"{k} {usd_total(v)}" for k, v in sorted(by_recipient.items(), key=lambda kv: -kv[1])]
        line += f", {usd_total(sum(by_recipient.values()))}: " + ", ".join(parts)
    if no_usd:
        line += f" ({no_usd} without a USD value)"
    return line


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
    summary = clean(summary_line(stories), 1000)
    text_lines = [summary, "", f"{n} new {'story matches' if n == 1 else 'stories match'} the rule '{rule.name}'."
                  + (f" ({clean(rule.description)})" if rule.description else ""), ""]
    parts = [f"<p><b>{html.escape(summary)}</b></p>",
             f"<p>{n} new {'story matches' if n == 1 else 'stories match'} the rule <b>{html.escape(rule.name)}</b>"
             + (f" — {html.escape(clean(rule.description))}" if rule.description else "") + ".</p>"]
    for s in stories:
        title = clean(s.get("title")) or "(untitled)"
        url = clean(clean_link(s.get("url") or s.get("canonical_url")), 2000)
        meta = " · ".join(x for x in (clean(outlet(s)), (s.get("published_at") or "")[:10],
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
        rows = reading_order(s.get("finance"))[:12]
        if rows:
            cells = []
            shown = None
            for role, m in rows:
                if role != shown:
                    text_lines.append("    deals:" if role == "deal" else "    background figures:")
                    cells.append(f'<tr><th colspan="5" align="left">'
                                 f'{"deals" if role == "deal" else "background figures"}</th></tr>')
                    shown = role
                row = (amount_text(m), usd_or_why(m), m["kind"], parties_text(m))
                text_lines.append(f"    {mention_text(m)}")
                text_lines.append(f"      \"{clean(m.get('sentence'), 400)}\"")
                cells.append("<tr>" + "".join(f"<td>{html.escape(clean(c, 400))}</td>" for c in row)
                             + f"<td><i>{html.escape(clean(m.get('sentence'), 400))}</i></td></tr>")
            parts.append('<table border="1" cellpadding="4" cellspacing="0"><tr><th>amount</th><th>USD</th>'
                         "<th>kind</th><th>lender → recipient</th><th>sentence</th></tr>" + "".join(cells) + "</table>")
        text_lines.append("")
    msg.set_content("\n".join(text_lines))
    msg.add_alternative("<html><body>" + "".join(parts) + "</body></html>", subtype="html")
    return msg
