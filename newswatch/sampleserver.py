"""A small loopback HTTP server for the demo, the tests and the benchmarks.

It serves a directory; in ``.xml`` files the placeholder ``{{BASE_URL}}`` is replaced with the server's own
address, so feeds point back at it. It sends ETag/Last-Modified and answers conditional requests with 304,
like a well-behaved news site, and counts requests per path so tests can check what was fetched.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

PLACEHOLDER = b"{{BASE_URL}}"
TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml; charset=utf-8",
         ".json": "application/json", ".txt": "text/plain; charset=utf-8"}


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server with a listen backlog for a crawler's concurrency. socketserver's default backlog
    is 5 and is fixed when the constructor binds (hence a class attribute): 16 fetch threads connecting at once
    overflowed it, and every dropped SYN cost its fetch a 1 s retransmission."""

    request_queue_size = 256
    daemon_threads = True


class Served:
    """A loopback server run by a thread (``self.httpd``, ``self.thread``): its addresses, start and stop."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SampleServer(Served):
    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0):
        self.root = Path(root).resolve()
        self.delay = delay  # seconds to wait before answering a page (not a feed): a slow site
        self.hits: Counter[str] = Counter()
        self.overrides: dict[str, bytes] = {}  # path -> body, for tests that change a feed
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms ACK stalls

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                server.hits[path] += 1
                if server.delay and not path.endswith(".xml"):
                    time.sleep(server.delay)
                body = server.overrides.get(path)
                if body is None:
                    target = (server.root / path.lstrip("/")).resolve()
                    if server.root not in target.parents or not target.is_file():
                        return self._send(404, b"not found", "text/plain")
                    body = target.read_bytes()
                    if target.suffix == ".xml":
                        body = body.replace(PLACEHOLDER, server.base_url.encode())
                    mtime = target.stat().st_mtime
                else:
                    mtime = 0
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                last_modified = formatdate(mtime, usegmt=True)
                if self.headers.get("If-None-Match") == etag or (
                        not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == last_modified):
                    return self._send(304, b"", None, etag, last_modified)
                ctype = TYPES.get(Path(path).suffix, "application/octet-stream")
                self._send(200, body, ctype, etag, last_modified)

            def _send(self, status, body, ctype, etag=None, last_modified=None):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", last_modified)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        self.httpd = LoopbackHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)



class RecordingSite(Served):
    """A loopback site that records every request (path, start and end time, requests in flight), for the
    politeness tests and benchmark: ``pages`` maps paths to bodies (``.xml`` served as a feed, ``robots.txt``
    as text, anything else as HTML, after ``latency`` seconds); ``routes`` maps paths to handlers
    ``fn(handler, hit_number)`` for answers such as a 429."""

    def __init__(self, host: str = "127.0.0.1", pages: dict[str, bytes] | None = None, latency: float = 0.0,
                 routes: dict | None = None):
        self.pages = dict(pages or {})
        self.routes = dict(routes or {})
        self.latency = latency
        self.log: list[tuple[str, float, float]] = []  # (path, started, finished), monotonic clock
        self.hits: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                started = time.monotonic()
                with site._lock:
                    site.hits[path] += 1
                    n = site.hits[path]
                    site.active += 1
                    site.max_active = max(site.max_active, site.active)
                self.counted = True
                try:
                    if path in site.routes:
                        site.routes[path](self, n)
                    elif path in site.pages:
                        if site.latency and path != "/robots.txt":
                            time.sleep(site.latency)
                        ctype = "text/plain" if path.endswith(".txt") else TYPES.get(Path(path).suffix, TYPES[".html"])
                        self.send(200, site.pages[path], ctype)
                    else:
                        self.send(404, b"not found", "text/plain")
                finally:
                    self.done()
                    with site._lock:
                        site.log.append((path, started, time.monotonic()))

            def done(self):
                # over once its answer is handed to the socket: the client may start its next request at once
                with site._lock:
                    if self.counted:
                        self.counted = False
                        site.active -= 1

            def send(self, status: int, body: bytes, ctype: str = "text/plain", headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.done()
                self.wfile.write(body)

        self.httpd = LoopbackHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def starts(self, exclude: tuple[str, ...] = ()) -> list[float]:
        """Start times of the requests, in order (paths in ``exclude`` left out)."""
        with self._lock:
            return sorted(s for p, s, _ in self.log if p not in exclude)



def filler_page(title: str, seed: int, words: int = 220) -> bytes:
    """An HTML story page of ``words`` pseudo-random words (distinct for each seed: no two are copies)."""
    import random

    rng = random.Random(seed)
    vocab = [w for w in ("grain rail loan bank road river power gas water market trade port city border "
                         "minister budget tariff project plant company farmers exports imports prices "
                         "contract pipeline corridor transit bonds investors reform region capital").split()]
    paras = ["<p>" + " ".join(rng.choice(vocab) for _ in range(words // 4)).capitalize() + ".</p>" for _ in range(4)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body><article>"
            f"<h1>{title}</h1>{''.join(paras)}</article></body></html>").encode()
