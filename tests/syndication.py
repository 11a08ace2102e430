"""The syndication test set: the wire stories of ``tests/data/wire_stories.yaml``, each carried by three outlets
with their own page templates (chrome) and small copy edits, served from three loopback hosts.

* Steppe Wire (127.0.0.1) publishes the original, with a nav bar, a "most read" sidebar and a footer.
* Silk Road Daily (127.0.0.2) rewrites the headline, drops the last paragraph, writes amounts as "$1.2bn", and
  puts a "read also" box and a cookie banner around the text.
* Caspian Monitor (127.0.0.3) adds a paragraph of local colour, writes "per cent", and puts its own standard
  paragraphs (about the outlet, reproduction terms) inside every article: boilerplate that is part of the
  article body, shared by all its stories, which must not make them copies of each other.
"""
from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data" / "wire_stories.yaml"
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


def stories() -> list[dict]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))["stories"]


@dataclass
class Page:
    slug: str  # the wire story: pages with the same slug are copies of one story
    outlet: int  # 0, 1, 2
    path: str
    title: str
    html: bytes
    published: str


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _edit(text: str, outlet: int) -> str:
    if outlet == 1:
        text = re.sub(r"\$(\d[\d.,]*) billion", r"$\1bn", text)
        text = re.sub(r"\$(\d[\d.,]*) million", r"$\1m", text)
        text = text.replace(" said on ", " announced on ", 1)
    elif outlet == 2:
        text = text.replace(" percent", " per cent").replace("programme", "program")
    return text


ABOUT_CM = ("Caspian Monitor is an independent news service covering business, energy and politics in the Caspian "
            "region and Central Asia. Follow us on Telegram and subscribe to our morning newsletter to get the "
            "most important stories of the day in your inbox before breakfast.")
TERMS_CM = ("Reproduction of this material is allowed only with an active hyperlink to Caspian Monitor. Opinions "
            "expressed by the authors do not necessarily reflect the position of the editorial board, which "
            "welcomes corrections and comments sent to the newsroom.")


def _page(story: dict, outlet: int, day: int, others: list[dict]) -> Page:
    paras = [_edit(p, outlet) for p in story["paragraphs"]]
    title = story["title_b"] if outlet == 1 else story["title"]
    hour = ("09:00", "11:30", "14:00")[outlet]
    published = f"2024-06-{day:02d}T{hour}:00+00:00"
    if outlet == 0:
        site, path = "Steppe Wire", f"/news/{story['slug']}.html"
        paras[0] = "(Steppe Wire) — " + paras[0]
        body = "".join(f"<p>{_esc(p)}</p>" for p in paras)
        chrome_top = ('<header><a href="/">Steppe Wire</a></header><nav><a href="/news">News</a> '
                      '<a href="/business">Business</a> <a href="/energy">Energy</a></nav>')
        side = "".join(f'<li><a href="/news/{o["slug"]}.html">{_esc(o["title"])}</a></li>' for o in others)
        chrome_side = f'<aside class="sidebar"><h3>Most read</h3><ul>{side}</ul></aside>'
        article = f"<article><h1>{_esc(title)}</h1><time datetime=\"{published}\"></time>{body}</article>"
        foot = "<footer>© 2024 Steppe Wire. All rights reserved.</footer>"
    elif outlet == 1:
        site, path = "Silk Road Daily", f"/world/central-asia/{story['slug']}.html"
        paras = paras[:-1]
        body = "".join(f"<p>{_esc(p)}</p>" for p in paras)
        reads = "".join(f'<li><a href="/world/central-asia/{o["slug"]}.html">{_esc(o["title_b"])}</a></li>'
                        for o in others[:3])
        chrome_top = ('<div class="cookie-banner">We use cookies to improve your experience. '
                      '<button>Accept</button></div><header class="masthead">Silk Road Daily</header>')
        chrome_side = ""
        article = (f'<article class="story"><h1>{_esc(title)}</h1><p class="byline">By Silk Road Daily staff, '
                   f'with Steppe Wire</p>{body}<aside class="related"><h4>Read also</h4><ul>{reads}</ul></aside>'
                   f"</article>")
        foot = '<footer><a href="/about">About us</a> <a href="/contact">Contact</a></footer>'
    else:
        site, path = "Caspian Monitor", f"/articles/{day}{story['slug']}.html"
        paras.insert(2, story["extra"])
        body = "".join(f"<p>{_esc(p)}</p>" for p in paras)
        chrome_top = '<div class="top-menu"><a href="/">Caspian Monitor</a> <a href="/region">Region</a></div>'
        chrome_side = ""
        article = (f'<div class="article-body"><h1>{_esc(title)}</h1><p>{_esc(ABOUT_CM)}</p>{body}'
                   f"<p>{_esc(TERMS_CM)}</p></div>")
        foot = '<div class="bottom">Caspian Monitor, Baku</div>'
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)} | {site}</title>'
            f'<meta property="og:site_name" content="{site}"><meta property="og:title" content="{_esc(title)}">'
            f'<meta property="article:published_time" content="{published}"></head><body>{chrome_top}'
            f"<main>{article}{chrome_side}</main>{foot}</body></html>")
    return Page(story["slug"], outlet, path, title, page.encode("utf-8"), published)


def pages() -> list[Page]:
    all_stories = stories()
    out = []
    for day, story in enumerate(all_stories, start=1):
        others = [o for o in all_stories if o is not story][:5]
        out += [_page(story, outlet, day, others) for outlet in range(3)]
    return out


def feed(pages_of_host: list[Page], base_url: str, title: str) -> bytes:
    items = "".join(f"<item><title>{_esc(p.title)}</title><link>{base_url}{p.path}</link><guid>{p.path}</guid>"
                    f"</item>" for p in pages_of_host)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{_esc(title)}</title>'
            f"{items}</channel></rss>").encode("utf-8")


def true_pairs(page_list: list[Page]) -> set[frozenset[str]]:
    """Pairs of paths that are copies of one story."""
    return {frozenset((a.path, b.path)) for a, b in itertools.combinations(page_list, 2) if a.slug == b.slug}


def precision_recall(predicted: set[frozenset[str]], truth: set[frozenset[str]]) -> tuple[float, float]:
    hits = len(predicted & truth)
    return (hits / len(predicted) if predicted else 1.0), (hits / len(truth) if truth else 1.0)
