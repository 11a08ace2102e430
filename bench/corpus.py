"""Benchmark corpus: N news pages varied from template pages, served with feeds from a loopback server.

Templates are the pages of the shared fixtures (``../shared/fixtures/articles``) or the bundled sample
corpus, for a Russian corpus the Russian development pages (``../shared/fixtures/dev-ru/articles``), for a mixed
one both (``lang``: ``en``, ``ru`` or ``mixed``; default ``$NEWSWATCH_BENCH_LANG`` or ``en``); they are read at run time and varied in memory (never copied into the repository): paragraphs are
repeated and shuffled to vary length, country names and amounts are swapped so the enrichment does real
work, and extra boilerplate (sidebar headlines, tickers, comments) is added or removed.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ["Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan", "China", "Russia",
             "Pakistan", "Japan", "Georgia", "Mongolia", "Azerbaijan", "Turkey", "India", "Iran"]
AMOUNTS = ["$150 million", "$2.4 billion", "about $9 billion", "€40 million", "3 billion yuan", "$1.2bn",
           "more than $11 billion", "roughly Rs 700 billion", "500 million somoni", "USD 150m", "¥3.8 trillion"]
COUNTRIES_RU = ["Казахстан", "Кыргызстан", "Таджикистан", "Туркменистан", "Узбекистан", "Китай", "Монголи",
                "Азербайджан", "Пакистан", "Япони", "Росси", "Беларус"]  # stems: «Кыргызстан|а», «Япони|я»
AMOUNTS_RU = ["$150 млн", "$2,4 млрд", "около $9 млрд", "40 млн евро", "3 млрд юаней", "1 млрд 700 млн долларов",
              "свыше 11 млрд рублей", "порядка Т40 млрд", "500 млн сомони", "13 млрд сомов", "три миллиарда долларов"]
SIDEBAR = ["Oil prices climb as {c} output falls", "{c} central bank holds rates at 14%",
           "Markets: {c} index up 1.2 percent", "Opinion: what {c} wants from the summit",
           "{c} signs $3 billion arms deal", "Weather: heatwave grips {c}"]


def template_dirs(lang: str = "en") -> list[Path]:
    fixtures = Path(os.environ.get("NEWSWATCH_FIXTURES", ROOT.parent / "shared" / "fixtures"))
    if lang == "ru":
        return [fixtures / "dev-ru" / "articles"]
    return [fixtures / "articles", ROOT / "newswatch" / "data" / "sample" / "articles"]


def load_templates(lang: str = "en") -> list[tuple[str, str]]:
    """The template pages as (language, html); ``mixed``: English and Russian ones alternating."""
    if lang == "mixed":
        en, ru = load_templates("en"), load_templates("ru")
        return [p for pair in zip(en, ru * (len(en) // len(ru) + 1)) for p in pair]
    pages = []
    for d in template_dirs(lang):
        if d.is_dir():
            for p in sorted(d.glob("*.html")):
                html = p.read_text(encoding="utf-8")
                if lang == "en" and '<html lang="ru"' in html[:200]:
                    continue  # the sample's Russian story belongs to the Russian corpus
                pages.append((lang, html))
    if not pages:
        raise SystemExit(f"no template pages found in {[str(d) for d in template_dirs(lang)]}")
    return pages


_RU_AMOUNT = re.compile(r"\$\d+(?:,\d+)? (?:млн|млрд)|\d+(?:,\d+)? (?:миллиона|миллионов|миллиарда|миллиардов) долларов")


_PARA = re.compile(r"<p>(.*?)</p>", re.S)


def vary(template: str, i: int, rng: random.Random, lang: str = "en") -> str:
    paras = _PARA.findall(template)
    if paras:
        k = rng.choice([1, 1, 2, 3])  # vary length: up to 3x the paragraphs
        body = paras * k
        rng.shuffle(body)
        new_paras = "".join(f"<p>{p}</p>" for p in body)
        first, last = template.find("<p>"), template.rfind("</p>") + 4
        template = template[:first] + new_paras + template[last:]
    if lang == "ru":
        for name in rng.sample(COUNTRIES_RU, 2):
            template = template.replace(rng.choice(COUNTRIES_RU), name, 1)
        template = _RU_AMOUNT.sub(lambda m: rng.choice(AMOUNTS_RU), template, count=2)
    else:
        for name in rng.sample(COUNTRIES, 2):
            template = template.replace(rng.choice(COUNTRIES), name, 1)
        template = re.sub(r"\$\d+(\.\d+)? (million|billion)", lambda m: rng.choice(AMOUNTS), template, count=2)
    extra = "".join(f"<li><a href='/x/{i}-{j}'>{rng.choice(SIDEBAR).format(c=rng.choice(COUNTRIES))}</a></li>"
                    for j in range(rng.randint(0, 12)))
    aside = f"<aside class='sidebar'><h4>Most read</h4><ul>{extra}</ul></aside>" if extra else ""
    stamp = f"<!-- variant {i} -->"
    # unique title so every page is a distinct story
    template = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{m.group(1)} ({i})</title>", template, count=1,
                      flags=re.S)
    template = re.sub(r"<h1>(.*?)</h1>", lambda m: f"<h1>{m.group(1)} ({i})</h1>", template, count=1, flags=re.S)
    return template.replace("</body>", f"{aside}{stamp}</body>")


class Corpus:
    """``n`` pages in memory and ``feeds`` feeds listing them, served on loopback."""

    def __init__(self, n: int = 2000, feeds: int = 20, seed: int = 7, lang: str | None = None):
        rng = random.Random(seed)
        self.lang = lang or os.environ.get("NEWSWATCH_BENCH_LANG", "en")
        templates = load_templates(self.lang)
        self.pages: dict[str, bytes] = {}
        for i in range(n):
            lang, template = templates[i % len(templates)]
            self.pages[f"/news/{i:06d}.html"] = vary(template, i, rng, lang).encode("utf-8")
        self.n_feeds = feeds
        corpus = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms ACK stalls

            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                if path.startswith("/feeds/"):
                    with corpus._feed_counter.get_lock():
                        corpus._feed_counter.value += 1
                    body = corpus.feed(int(path.rsplit("/", 1)[-1].split(".")[0]))
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    return self._send(200, body, "application/rss+xml", {"ETag": etag})
                body = corpus.pages.get(path)
                if body is None:
                    return self._send(404, b"nope", "text/plain")
                with corpus._counter.get_lock():
                    corpus._counter.value += 1
                self._send(200, body, "text/html; charset=utf-8")

            def _send(self, status, body, ctype, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        from newswatch.sampleserver import LoopbackHTTPServer  # backlog for 16 concurrent connects

        self.httpd = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        # serve from a separate process (forked with the pages in memory): the site being crawled must not
        # compete with the crawler for the GIL, or the benchmark measures the test server
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._counter = ctx.Value("i", 0)
        self._feed_counter = ctx.Value("i", 0)
        self.process = ctx.Process(target=self._serve, daemon=True)
        self.process.start()
        self.httpd.server_close()  # the child owns the listening socket now

    def _serve(self):
        self.httpd.serve_forever()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hits(self) -> int:
        return self._counter.value

    @property
    def feed_hits(self) -> int:
        return self._feed_counter.value

    def feed(self, k: int) -> bytes:
        paths = sorted(self.pages)[k::self.n_feeds]
        date = formatdate(1_700_000_000, usegmt=True)
        items = "".join(f"<item><title>story {p}</title><link>{self.base_url}{p}</link><guid>{p}</guid>"
                        f"<pubDate>{date}</pubDate></item>" for p in paths)
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench feed {k}</title>{items}'
                f"</channel></rss>").encode()

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/feeds/{k}.xml" for k in range(self.n_feeds)]

    def write_feeds_file(self, path: Path) -> Path:
        path.write_text("".join(u + "\n" for u in self.feed_urls()))
        return path

    def close(self):
        self.process.terminate()
        self.process.join(5)
