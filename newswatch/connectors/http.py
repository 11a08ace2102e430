"""HTTP fetching with limits and an SSRF guard.

* The guard runs where the socket is opened: the host is resolved, every address is checked (private,
  loopback, link-local/cloud metadata, multicast, reserved...), and only then is a connection made to an
  allowed address. It therefore applies after DNS resolution and on every redirect hop, and a name that
  resolves to a forbidden address is refused before any packet is sent to it.
* Redirects are followed by hand (bounded), only to http/https.
* Bodies are streamed with a byte cap (checked on ``Content-Length`` first, then while reading decoded
  data, so a gzip bomb stops at the cap) and a total deadline (slow-loris pages).
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/xml", "text/xml", "application/rdf+xml",
    "application/feed+json", "text/plain", "application/octet-stream", "text/html",
)


class FetchError(Exception):
    """A fetch that failed for a reason worth recording (the run goes on)."""

    def __init__(self, reason: str, *, kind: str = "fetch_error", status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class ForbiddenAddress(FetchError):
    def __init__(self, reason: str):
        super().__init__(reason, kind="forbidden_address")


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allow_loopback: bool = False

    def check(self, ip: str) -> str | None:
        """Why ``ip`` may not be contacted, or None if it may."""
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        if addr.is_loopback:
            return None if (self.allow_loopback or self.allow_private) else "loopback address"
        if addr.is_link_local:
            return "link-local address (cloud metadata range)"
        if addr.is_multicast or addr.is_unspecified or addr.is_reserved:
            return "non-routable address"
        if addr.is_private or not addr.is_global:
            return None if self.allow_private else "private address"
        return None


def _guarded_create_connection(policy: AddressPolicy):
    def create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                          socket_options=None):
        host, port = address
        try:
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"DNS lookup failed for {host}: {exc}", kind="dns_error") from exc
        for *_, sockaddr in infos:
            why = policy.check(sockaddr[0])
            if why:
                raise ForbiddenAddress(f"refusing to connect to {host} ({sockaddr[0]}): {why}")
        last: Exception | None = None
        for family, socktype, proto, _canon, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                if socket_options:
                    for opt in socket_options:
                        sock.setsockopt(*opt)
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                last = exc
                sock.close()
        raise last or OSError(f"could not connect to {host}")

    return create_connection


def _pool_manager(policy: AddressPolicy, maxsize: int) -> urllib3.PoolManager:
    create = _guarded_create_connection(policy)

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self):
            try:
                return create((self._dns_host, self.port), self.timeout, self.source_address, self.socket_options)
            except FetchError:
                raise
            except OSError as exc:
                raise urllib3.exceptions.NewConnectionError(self, f"connection failed: {exc}") from exc

    class GuardedHTTPSConnection(HTTPSConnection, GuardedHTTPConnection):
        _new_conn = GuardedHTTPConnection._new_conn

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class SPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    pm = urllib3.PoolManager(num_pools=64, maxsize=maxsize, block=False, retries=False)
    pm.pool_classes_by_scheme = {"http": Pool, "https": SPool}
    return pm


@dataclass
class Response:
    url: str  # final URL after redirects
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    redirects: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in (self.headers.get("content-type") or "").split(";")[1:]:
            k, _, v = part.partition("=")
            if k.strip().lower() == "charset" and v.strip():
                return v.strip().strip('"')
        return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Fetcher:
    """Thread-safe HTTP client with the limits from :class:`Settings`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = AddressPolicy(settings.allow_private_addresses, settings.allow_loopback)
        self.pm = _pool_manager(self.policy, maxsize=max(4, settings.fetch_concurrency))

    def get(self, url: str, *, headers: dict | None = None, max_bytes: int | None = None,
            accept_types: tuple[str, ...] | None = HTML_TYPES) -> Response:
        """GET ``url``; raises :class:`FetchError` for anything a user should see as an error.

        A 304 is returned as a response (conditional GET); other non-2xx statuses raise. A 429 or 503 with a
        short ``Retry-After`` is retried politely (bounded); a long one is reported with the wait asked for.
        """
        s = self.settings
        for attempt in range(s.http_retries + 1):
            try:
                return self._get_once(url, headers, max_bytes, accept_types)
            except FetchError as exc:
                wait = exc.retry_after
                if exc.status not in (429, 503) or attempt == s.http_retries:
                    raise
                if wait is None:
                    wait = 1.0 * (attempt + 1)
                if wait > s.max_retry_after:
                    exc.reason += f" (server asks to retry after {wait:.0f}s; not waiting that long)"
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _get_once(self, url: str, headers: dict | None, max_bytes: int | None,
                  accept_types: tuple[str, ...] | None) -> Response:
        s = self.settings
        max_bytes = max_bytes or s.max_page_bytes
        req_headers = {"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate",
                       "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"}
        req_headers.update(headers or {})
        started = time.monotonic()
        deadline = started + s.fetch_total_timeout
        redirects: list[str] = []
        current = url
        for _hop in range(s.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"unsupported URL scheme or host: {current[:200]}", kind="bad_url")
            try:
                resp = self.pm.request(
                    "GET", current, headers=req_headers, redirect=False, preload_content=False,
                    timeout=urllib3.Timeout(connect=min(10.0, s.fetch_timeout), read=s.fetch_timeout),
                )
            except FetchError:
                raise
            except urllib3.exceptions.HTTPError as exc:
                cause = exc.__context__ if isinstance(exc.__context__, FetchError) else None
                if cause:
                    raise cause
                kind = "timeout" if isinstance(exc, urllib3.exceptions.TimeoutError) else "connection_error"
                raise FetchError(f"{kind.replace('_', ' ')}: {exc}", kind=kind) from exc
            complete = False  # only a connection whose body was fully read may go back to the pool
            try:
                if resp.status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(f"HTTP {resp.status} without Location", kind="http_error",
                                         status=resp.status)
                    nxt = urljoin(current, location)
                    if nxt in redirects or nxt == current:
                        raise FetchError(f"redirect loop at {nxt[:200]}", kind="redirect_loop", status=resp.status)
                    redirects.append(current)
                    current = nxt
                    continue
                headers_out = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status == 304:
                    complete = True
                    return Response(current, 304, headers_out, b"", redirects, time.monotonic() - started)
                if resp.status >= 400 or resp.status < 200:
                    raise FetchError(
                        f"HTTP {resp.status} {resp.reason or ''}".strip(), kind="http_error", status=resp.status,
                        retry_after=_retry_after(resp.headers.get("retry-after")),
                    )
                out = Response(current, resp.status, headers_out, b"", redirects)
                if accept_types is not None and out.content_type and out.content_type not in accept_types:
                    raise FetchError(f"unsupported content type {out.content_type!r}", kind="content_type",
                                     status=resp.status)
                length = resp.headers.get("content-length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise FetchError(f"too large: Content-Length {int(length)} > limit {max_bytes}",
                                     kind="too_large", status=resp.status)
                chunks, total = [], 0
                while True:
                    if time.monotonic() > deadline:
                        raise FetchError(f"took longer than {s.fetch_total_timeout:.0f}s", kind="timeout")
                    try:  # read1: returns as soon as data arrives, so a trickling server meets the deadline
                        chunk = resp.read1(64 * 1024, decode_content=True)
                    except urllib3.exceptions.HTTPError as exc:
                        raise FetchError(f"read failed: {exc}", kind="read_error") from exc
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"too large: body exceeds {max_bytes} bytes", kind="too_large",
                                         status=resp.status)
                    chunks.append(chunk)
                out.body = b"".join(chunks)
                out.elapsed = time.monotonic() - started
                complete = True
                return out
            finally:
                if not complete:
                    resp.close()  # unread body (error, too large, redirect): never reuse this connection
                resp.release_conn()
        raise FetchError(f"too many redirects (> {s.max_redirects})", kind="redirect_loop")
