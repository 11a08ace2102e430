"""Client of the named-entity service (Stanford CoreNLP behind newswatch's loopback launcher, see
:mod:`newswatch.connectors.nlp_local`): texts in, :class:`~newswatch.extraction.ner.NerSpan` lists out.

One client per process (the extraction workers each have their own): one keep-alive connection, one request at a
time, so a worker's concurrency against the service is one request and the pool's is the number of workers.
Several texts go in one request. A failure (refused, timed out, an error answer) opens a circuit for
``COOL_DOWN`` seconds: callers get ``None`` at once instead of each waiting for the timeout, and enrich with
the rules alone.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..extraction.ner import NerSpan, span

COOL_DOWN = 30.0


@dataclass(frozen=True)
class NlpConfig:
    """What a worker needs to reach the service (picklable: it travels to the extraction processes)."""

    url: str
    timeout: float = 20.0
    max_chars: int = 30_000


class NlpUnavailable(RuntimeError):
    pass


def _utf16_to_index(text: str):
    """A function mapping UTF-16 code-unit offsets (Java's) to ``str`` indices, for texts outside the BMP."""
    if all(ord(c) < 0x10000 for c in text):
        return lambda k: k
    table = []
    for i, c in enumerate(text):
        table.append(i)
        if ord(c) >= 0x10000:
            table.append(i)
    table.append(len(text))
    return lambda k: table[min(k, len(table) - 1)]


class NlpClient:
    def __init__(self, config: NlpConfig):
        self.config = config
        parts = urlsplit(config.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.last_error: str | None = None

    def _post(self, body: bytes) -> bytes:
        reused = self._conn is not None
        try:
            return self._post_once(body)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            if not reused:
                raise
            return self._post_once(body)  # the service closed an idle keep-alive connection: once more, anew

    def _post_once(self, body: bytes) -> bytes:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.config.timeout)
        # the service answers when the whole batch is read: the wait grows with the text sent (~2 s per 10,000
        # characters allowed beyond the base timeout, a loaded machine's pace)
        self._conn.timeout = self.config.timeout + len(body) / 5000
        if self._conn.sock is not None:
            self._conn.sock.settimeout(self._conn.timeout)
        try:
            self._conn.request("POST", self.base + "/ner", body=body,
                               headers={"Content-Type": "text/plain; charset=utf-8"})
            resp = self._conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        if resp.status != 200:
            raise NlpUnavailable(f"HTTP {resp.status}: {data[:200].decode('utf-8', 'replace')}")
        return data

    def spans(self, texts: list[str]) -> list[list[NerSpan]] | None:
        """The spans of each text, or None while the service is failing (``last_error`` says why)."""
        if time.monotonic() < self.down_until:
            return None
        sent = [t[:self.config.max_chars].replace("\0", " ") for t in texts]
        with self._lock:
            try:
                answer = json.loads(self._post("\0".join(sent).encode("utf-8")))
                if not isinstance(answer, list) or len(answer) != len(sent):
                    raise NlpUnavailable(f"answered {type(answer).__name__} for {len(sent)} texts")
            except (OSError, http.client.HTTPException, ValueError, NlpUnavailable) as exc:
                self.last_error = f"{self.config.url}: {type(exc).__name__}: {exc}" if str(exc) else \
                    f"{self.config.url}: {type(exc).__name__}"
                self.down_until = time.monotonic() + COOL_DOWN
                return None
        out = []
        for text, found in zip(sent, answer):
            index = _utf16_to_index(text)
            out.append([s for b, e, tag in found if (s := span(text, index(b), index(e), tag)) is not None])
        return out


_clients: dict[NlpConfig, NlpClient] = {}
_clients_lock = threading.Lock()


def client(config: NlpConfig) -> NlpClient:
    """This process's client for ``config``."""
    with _clients_lock:
        c = _clients.get(config)
        if c is None:
            c = _clients[config] = NlpClient(config)
        return c


def ready(url: str, timeout: float = 2.0) -> bool:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path.rstrip("/") + "/ready")
        resp = conn.getresponse()
        return resp.status == 200 and resp.read().strip() == b"ok"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
