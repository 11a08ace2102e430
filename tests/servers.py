"""Real loopback servers that misbehave on purpose, for the fault-injection tests.

* :class:`HostileServer` — a web server whose paths are faults: slow loris, lying Content-Length, gzip bomb,
  redirect loops and redirects to internal addresses, PDF/image content, wrong/missing charset, empty pages,
  500, 429 with Retry-After, HTML served as a feed, a 10,000-entry feed...
* :class:`TCPProxy` — forwards a port to a real server (Elasticsearch) and can be cut (connections reset,
  new ones refused) and restored, e.g. after N bulk requests went through.
"""
from __future__ import annotations

import gzip
import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

from newswatch.sampleserver import LoopbackHTTPServer, Served

STORY = """<!DOCTYPE html><html lang="en"><head><meta charset="{charset}"><title>{title}</title>
<meta property="article:published_time" content="2024-05-02T09:00:00+00:00"></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1><time datetime="2024-05-02">2 May 2024</time>
<p>ALMATY — {lead} The Kazakh government said the agreement covers the modernisation of 1,200 kilometres of
railway track between the Chinese border and the Caspian port of Aktau, and a new logistics hub.</p>
<p>Officials in Astana said the project would cut transit times for containers travelling between China
and Europe by about a third, and that construction would start in the autumn.</p>
<p>Analysts said the deal underlined the growing importance of the Middle Corridor for trade that avoids
Russian territory, a route that has drawn interest from the European Union and Türkiye.</p>
</article><footer>© 2024 Test Wire</footer></body></html>"""


def story_html(title: str, lead: str = "Kazakhstan signed a $500 million loan for railways.",
               charset: str = "utf-8") -> str:
    return STORY.format(title=title, lead=lead, charset=charset)


def _gzip_bomb(size: int = 200 * 1024 * 1024) -> bytes:
    buf = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        for _ in range(size // len(chunk)):
            gz.write(chunk)
    return buf.getvalue()


class HostileServer(Served):
    def __init__(self):
        self.hits: dict[str, int] = {}
        self.authorized: list[str] = []  # paths asked for with credentials
        self._bomb: bytes | None = None
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms ACK stalls

            def log_message(self, *a):
                pass

            def _send(self, status, body=b"", ctype="text/html; charset=utf-8", headers=None):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if "Content-Length" not in (headers or {}):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                if self.headers.get("Authorization"):
                    server.authorized.append(path)
                n = server.hits[path]
                base = server.base_url
                try:
                    route = getattr(server, "route_" + path.strip("/").replace("-", "_").replace("/", "__"), None)
                    if route is None:
                        return self._send(404, b"no such fault", "text/plain")
                    route(self, n, base)
                except OSError:  # the client gave up (that is the point of most faults)
                    pass

        self.httpd = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, client_address: None  # clients hanging up is expected
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # --------------------------------------------------------------- routes (path /a-b -> route_a_b)

    def route_good_1(self, h, n, base):
        h._send(200, story_html("Kazakhstan signs railway loan with China").encode())

    def route_good_2(self, h, n, base):
        h._send(200, story_html("Uzbekistan opens solar plant", "Uzbekistan opened a $90 million plant.").encode())

    def route_slow_loris(self, h, n, base):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            h.wfile.write(b"<")
            h.wfile.flush()
            time.sleep(0.5)

    def route_huge_length(self, h, n, base):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(10 * 1024 ** 3))
        h.end_headers()
        h.wfile.write(b"<html>" + b"x" * 1024)

    def route_gzip_bomb(self, h, n, base):
        if self._bomb is None:
            self._bomb = _gzip_bomb()
        h._send(200, self._bomb, headers={"Content-Encoding": "gzip", "Content-Length": str(len(self._bomb))})

    def route_redirect_loop(self, h, n, base):
        h._send(302, headers={"Location": f"{base}/redirect-loop-b"})

    def route_redirect_loop_b(self, h, n, base):
        h._send(302, headers={"Location": f"{base}/redirect-loop"})

    def route_redirect_metadata(self, h, n, base):
        h._send(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    def route_redirect_private(self, h, n, base):
        h._send(301, headers={"Location": "http://10.23.45.67/admin"})

    def route_redirect_localhost_name(self, h, n, base):
        port = self.httpd.server_address[1]
        h._send(302, headers={"Location": f"http://localhost:{port}/good-1"})

    def route_redirect_ok(self, h, n, base):
        h._send(302, headers={"Location": f"{base}/good-1"})

    def route_redirect_credentials(self, h, n, base):
        h._send(302, headers={"Location": base.replace("http://", "http://user:secret@") + "/good-2"})

    def route_pdf(self, h, n, base):
        h._send(200, b"%PDF-1.4 fake", "application/pdf")

    def route_image(self, h, n, base):
        h._send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png")

    def route_wrong_charset(self, h, n, base):
        body = story_html("Türkiye and Kazakhstan agree Middle Corridor financing",
                          "Kazakhstan’s ministry said Türkiye would lend €200 million.").encode("utf-8")
        h._send(200, body, "text/html; charset=iso-8859-1")

    def route_no_charset(self, h, n, base):
        body = story_html("Kyrgyz–Chinese customs deal signed", "Kyrgyzstan’s customs service said…",
                          charset="windows-1251").replace("<meta charset=\"windows-1251\">", "").encode("cp1251",
                                                                                                      "replace")
        h._send(200, body, "text/html")

    def route_latin1_declared(self, h, n, base):
        body = story_html("Café owners in Almaty protest new tax", "Café owners said the levy was unfair.",
                          charset="iso-8859-1").encode("iso-8859-1", "replace")
        h._send(200, body, "text/html; charset=iso-8859-1")

    def _bogus_charset(self, h, charset):
        # cp1251 bytes (not valid UTF-8) under a label Python knows but cannot decode a page with
        body = story_html("Казахстан и Китай подписали кредит", "Казахстан подписал кредит на $500 млн.",
                          charset=charset).encode("cp1251", "replace")
        h._send(200, body, f"text/html; charset={charset}")

    def route_charset_undefined(self, h, n, base):
        self._bogus_charset(h, "undefined")

    def route_charset_idna(self, h, n, base):
        self._bogus_charset(h, "idna")

    def route_charset_punycode(self, h, n, base):
        self._bogus_charset(h, "punycode")

    def route_tag_flood(self, h, n, base):  # 4.8 MB of 600,000 elements (37 s and 837 MB to extract, unbounded)
        h._send(200, b"<html><head><title>Flood</title></head><body><p>" + b"<b>a</b>" * 600_000 + b"</p></body></html>")

    def route_slow_tree(self, h, n, base):  # 100 KB of tiny nested blocks: seconds of trafilatura per page
        h._send(200, b"<html><body>" + b"<div><p>Some words of text here.</p></div>" * 2500 + b"</body></html>")

    def route_empty(self, h, n, base):
        h._send(200, b"<html><head><title></title></head><body><nav>Home</nav></body></html>")

    def route_error_500(self, h, n, base):
        h._send(500, b"internal error", "text/plain")

    def route_rate_limited(self, h, n, base):
        if n == 1:
            return h._send(429, b"slow down", "text/plain", headers={"Retry-After": "1"})
        self.route_good_2(h, n, base)

    def route_rate_limited_long(self, h, n, base):
        h._send(429, b"come back tomorrow", "text/plain", headers={"Retry-After": "86400"})

    def route_html_feed(self, h, n, base):
        h._send(200, b"<!doctype html><html><body><h1>Not a feed</h1><p>Sorry</p></body></html>")

    def route_big_feed(self, h, n, base):
        items = "".join(f"<item><title>Item {i}</title><link>{base}/item/{i}</link><guid>g{i}</guid></item>"
                        for i in range(10_000))
        h._send(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
                .encode(), "application/rss+xml")

    def route_bad_links_feed(self, h, n, base):
        body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Bad links</title>
        <item><title>js</title><link>javascript:alert(document.cookie)</link></item>
        <item><title>file</title><link>file:///etc/passwd</link></item>
        <item><title>none</title><description>no link at all</description></item>
        <item><title>dup 1</title><link>{base}/good-1</link><guid>same-guid</guid></item>
        <item><title>dup 2</title><link>{base}/good-2</link><guid>same-guid</guid></item>
        </channel></rss>"""
        h._send(200, body.encode(), "application/rss+xml")

    # ---------------------------------------------------------------

    def feed(self, paths: list[str]) -> str:
        items = "".join(f"<item><title>{p}</title><link>{self.url(p)}</link><guid>{p}</guid></item>" for p in paths)
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Faults</title>{items}</channel></rss>'

    def stop(self) -> None:
        self._stop.set()
        super().stop()


class TCPProxy:
    """Loopback TCP forwarder to ``target``; ``cut_after_bulk(n)`` resets everything once n bulk requests passed."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.bulk_seen = 0
        self.bulk_limit: int | None = None
        self.refused = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after_bulk(self, n: int) -> None:
        self.bulk_limit = n

    def restore(self) -> None:
        self.bulk_limit = None
        self.cut.clear()

    def _kill_all(self) -> None:
        self.cut.set()
        with self._lock:
            for c in self._conns:
                try:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                except OSError:
                    pass
            self._conns.clear()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and b"/_bulk" in data:
                    self.bulk_seen += data.count(b"/_bulk")
                    if self.bulk_limit is not None and self.bulk_seen > self.bulk_limit:
                        self._kill_all()
                        return
                if self.cut.is_set():
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self._closed = True
        self._kill_all()
        self.listener.close()


# ---------------------------------------------------------------- Central Bank of Russia rates, on loopback

# (CharCode, Nominal, Name, RUB per Nominal on the base day): the shape of the CBR's XML_daily.asp document
CBR_BASE = [("USD", 1, "Доллар США", 85.4963), ("EUR", 1, "Евро", 92.4276), ("CNY", 1, "Юань", 11.7136),
            ("KZT", 100, "Тенге", 16.9831), ("UZS", 10000, "Узбекских сумов", 66.2085),
            ("KGS", 100, "Сомов", 98.8338), ("TJS", 10, "Сомони", 78.4068),
            ("TMT", 1, "Новый туркменский манат", 24.4275), ("AZN", 1, "Азербайджанский манат", 49.6371)]


def cbr_value(code: str, day) -> float:
    """RUB per unit of ``code`` in the document the test server gives for ``day`` (different on every day)."""
    _c, nominal, _n, value = next(row for row in CBR_BASE if row[0] == code)
    return round(value * (1 + day.toordinal() % 97 / 1000), 4) / nominal


def cbr_document(day, effective=None) -> bytes:
    """A ``XML_daily.asp`` document for ``day`` (windows-1251, decimal commas, as the CBR writes it)."""
    effective = effective or day
    rows = []
    for i, (code, nominal, name, _v) in enumerate(CBR_BASE):
        value = f"{cbr_value(code, day) * nominal:.4f}".replace(".", ",")
        rows.append(f'<Valute ID="R0{i:04d}"><NumCode>{i:03d}</NumCode><CharCode>{code}</CharCode>'
                    f"<Nominal>{nominal}</Nominal><Name>{name}</Name><Value>{value}</Value></Valute>")
    return (f'<?xml version="1.0" encoding="windows-1251"?>\n<ValCurs Date="{effective:%d.%m.%Y}" '
            f'name="Foreign Currency Market">' + "".join(rows) + "</ValCurs>").encode("cp1251")


class CbrServer(Served):
    """Answers ``/scripts/XML_daily.asp?date_req=DD/MM/YYYY`` with :func:`cbr_document`; ``mode`` makes it fail
    ("500", "404", "garbage"); ``requests`` logs (date asked, monotonic time)."""

    def __init__(self):
        from datetime import datetime
        from urllib.parse import parse_qs, urlsplit

        self.requests: list[tuple[str, float]] = []
        self.mode = "ok"
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                asked = (parse_qs(parts.query).get("date_req") or [""])[0]
                server.requests.append((asked, time.monotonic()))
                if server.mode == "500":
                    return self._send(500, b"down", "text/plain")
                if parts.path != "/scripts/XML_daily.asp" or server.mode == "404":
                    return self._send(404, b"not found", "text/plain")
                if server.mode == "garbage":
                    return self._send(200, b"<html><body>maintenance</body></html>", "application/xml")
                day = datetime.strptime(asked, "%d/%m/%Y").date()
                self._send(200, cbr_document(day), "application/xml; charset=windows-1251")

            def _send(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/scripts/XML_daily.asp"

    def asked(self) -> list[str]:
        return [d for d, _t in self.requests]
