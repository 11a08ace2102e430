"""HTTP fetching with limits and an SSRF guard, on libcurl (``pycurl``): the request, TLS, decompression and
header parsing run in C, at about a third of the CPU per page of a pure-Python client (``bench/bench_fetch_client.py``).

* The guard runs where the socket is opened: libcurl resolves the host and asks this module for each socket
  (``OPENSOCKETFUNCTION``); the address is checked (private, loopback, link-local/cloud metadata, multicast,
  reserved...) and a forbidden one gets no socket. It therefore applies after DNS resolution and on every
  redirect hop, and no packet is ever sent to a forbidden address. (A name with both allowed and forbidden
  addresses is fetched from an allowed one; the fetch fails as ``forbidden_address`` when none is allowed.)
* Redirects are followed by hand (bounded), only to http/https; proxies from the environment are ignored.
* Bodies are received with a byte cap (checked on ``Content-Length`` first, then on the decoded data as it
  arrives, so a gzip bomb stops at the cap), a read timeout (libcurl's low-speed limit: under a byte a second
  over ``fetch_timeout``, so a stall is cut after one to two times that) and a total deadline (slow-loris
  pages).
* One libcurl handle per thread, reused, so connections are kept alive between pages of a site.
"""
from __future__ import annotations

import ipaddress
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import pycurl

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
        return _media_type(self.headers.get("content-type"))

    @property
    def charset(self) -> str | None:
        for part in (self.headers.get("content-type") or "").split(";")[1:]:
            k, _, v = part.partition("=")
            if k.strip().lower() == "charset" and v.strip():
                return v.strip().strip('"')
        return None


def _media_type(content_type: str | None) -> str:
    """'text/html; charset=utf-8' -> 'text/html'."""
    return (content_type or "").split(";")[0].strip().lower()


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


def strip_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part (a link's credentials are never stored, logged or fetched
    with); any other URL as it is."""
    try:
        parts = urlsplit(url)
    except (ValueError, TypeError):
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_USERINFO = re.compile(r"""(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#'"]*@""")


def without_credentials(text: str) -> str:
    """``text`` (an error message, a log line) with the ``user:password@`` part of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _wire_url(url: str) -> str:
    """``url`` as it goes on the wire: the host IDNA-encoded, spaces and non-ASCII characters percent-encoded
    (as a browser, or urllib3, would); a URL that cannot be written so is a ``bad_url`` error."""
    if url.isascii() and " " not in url:
        return url
    from urllib3.util import parse_url

    try:
        wired = parse_url(url).url
    except (ValueError, UnicodeError) as exc:
        raise FetchError(f"bad URL {url[:200]!r}: {exc}", kind="bad_url") from None
    if not wired.isascii():
        raise FetchError(f"bad URL {url[:200]!r}: not encodable", kind="bad_url")
    return wired


def _ca_bundle() -> str | None:
    """The CA certificates for https: certifi's (as the rest of the Python stack), else libcurl's own default."""
    try:
        import certifi
    except ImportError:  # pragma: no cover
        return None
    return certifi.where()


class _Transfer:
    """One response being received: its status line and headers, its body up to the cap, and why it was cut
    short (a :class:`FetchError`), if it was."""

    __slots__ = ("lines", "chunks", "total", "cap", "accept_types", "checked", "error", "skip_body", "refused")

    def __init__(self, cap: int, accept_types: tuple[str, ...] | None):
        self.lines: list[bytes] = []
        self.chunks: list[bytes] = []
        self.total = 0
        self.cap = cap
        self.accept_types = accept_types
        self.checked = False
        self.error: FetchError | None = None
        self.skip_body = False
        self.refused: str | None = None

    def status(self) -> tuple[int, str]:
        first = self.lines[0].decode("latin-1").split(None, 2) if self.lines else []
        code = int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
        return code, (first[2].strip() if len(first) > 2 else "")

    def headers(self) -> dict:
        out: dict[str, str] = {}
        for line in self.lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                out[name.strip().lower()] = value.strip()
        return out

    def check(self) -> None:
        """Before the body: a redirect or an error answer needs no body; an unwanted type or a declared length
        over the cap stops the transfer."""
        self.checked = True
        code, _ = self.status()
        if not 200 <= code < 300:
            self.skip_body = True
            return
        headers = self.headers()
        ctype = _media_type(headers.get("content-type"))
        if self.accept_types is not None and ctype and ctype not in self.accept_types:
            self.error = FetchError(f"unsupported content type {ctype!r}", kind="content_type", status=code)
            return
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.cap:
            self.error = FetchError(f"too large: Content-Length {int(length)} > limit {self.cap}", kind="too_large",
                                    status=code)

    def header(self, line: bytes) -> None:
        if self.checked:
            return  # a trailer after a chunked body: the response's headers were the ones checked
        if line.startswith(b"HTTP/"):  # a new response (e.g. after "100 Continue"): start over
            self.lines.clear()
        self.lines.append(line)

    def write(self, data: bytes):
        if not self.checked:
            self.check()
        if self.error is not None or self.skip_body:
            return -1  # abort: libcurl closes this connection instead of reusing it
        self.total += len(data)
        if self.total > self.cap:
            code, _ = self.status()
            self.error = FetchError(f"too large: body exceeds {self.cap} bytes", kind="too_large", status=code)
            return -1
        self.chunks.append(data)
        return None


class Fetcher:
    """Thread-safe HTTP client with the limits from :class:`Settings` (one libcurl handle per thread)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = AddressPolicy(settings.allow_private_addresses, settings.allow_loopback)
        self._local = threading.local()
        self._ca = _ca_bundle()

    def _handle(self) -> pycurl.Curl:
        c = getattr(self._local, "curl", None)
        if c is None:
            s = self.settings
            c = self._local.curl = pycurl.Curl()
            c.setopt(pycurl.NOSIGNAL, 1)  # threads: no SIGALRM for timeouts
            c.setopt(pycurl.PROXY, "")  # never a proxy from the environment
            c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            c.setopt(pycurl.FOLLOWLOCATION, 0)  # redirects by hand, each hop checked
            c.setopt(pycurl.ACCEPT_ENCODING, "gzip, deflate")
            c.setopt(pycurl.CONNECTTIMEOUT_MS, int(min(10.0, s.fetch_timeout) * 1000))
            c.setopt(pycurl.LOW_SPEED_LIMIT, 1)  # read timeout: no byte for fetch_timeout seconds
            c.setopt(pycurl.LOW_SPEED_TIME, max(1, math.ceil(s.fetch_timeout)))
            c.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
            if self._ca:
                c.setopt(pycurl.CAINFO, self._ca)
        return c

    def _open_socket(self, purpose, address):
        family, socktype, protocol, sockaddr = address
        why = self.policy.check(sockaddr[0])
        if why:
            transfer = getattr(self._local, "transfer", None)
            if transfer is not None and transfer.refused is None:
                transfer.refused = f"{sockaddr[0]}: {why}"
            return pycurl.SOCKET_BAD
        # the descriptor itself goes to libcurl, which closes it (a copy would be inheritable by children)
        return socket.socket(family, socktype, protocol).detach()

    def get(self, url: str, *, headers: dict | None = None, max_bytes: int | None = None,
            accept_types: tuple[str, ...] | None = HTML_TYPES, retries: int | None = None) -> Response:
        """GET ``url``; raises :class:`FetchError` for anything a user should see as an error.

        A 304 is returned as a response (conditional GET); other non-2xx statuses raise. A 429 or 503 with a
        short ``Retry-After`` is retried politely (bounded); a long one is reported with the wait asked for.
        """
        s = self.settings
        retries = s.http_retries if retries is None else retries  # 0: the caller paces retries per host
        for attempt in range(retries + 1):
            try:
                return self._get_once(url, headers, max_bytes, accept_types)
            except FetchError as exc:
                wait = exc.retry_after
                if exc.status not in (429, 503) or attempt == retries:
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
        req_headers = {"User-Agent": s.user_agent,
                       "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"}
        req_headers.update(headers or {})
        try:  # as bytes: a validator from a server (an ETag) may hold any Latin-1 character
            header_lines = [f"{k}: {v}".encode("latin-1") for k, v in req_headers.items()]
        except UnicodeEncodeError as exc:
            raise FetchError(f"request header not encodable: {exc}", kind="bad_url") from None
        started = time.monotonic()
        deadline = started + s.fetch_total_timeout
        redirects: list[str] = []
        current = url
        for _hop in range(s.max_redirects + 1):
            wire = _wire_url(current)
            try:
                parts = urlsplit(wire)
                host = parts.hostname
            except ValueError as exc:  # "http://[::1": not a URL
                raise FetchError(f"bad URL {current[:200]!r}: {exc}", kind="bad_url") from None
            if parts.scheme not in ("http", "https") or not host:
                raise FetchError(f"unsupported URL scheme or host: {current[:200]}", kind="bad_url")
            if _CONTROL.search(wire):  # libcurl's binding raises a bare ValueError on a NUL
                raise FetchError(f"bad URL {current[:200]!r}: control character in the URL", kind="bad_url")
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError(f"took longer than {s.fetch_total_timeout:.0f}s", kind="timeout")
            t = self._perform(wire, header_lines, max_bytes, accept_types, left)
            status, reason = t.status()
            headers_out = t.headers()
            if status in (301, 302, 303, 307, 308):
                location = headers_out.get("location")
                if not location:
                    raise FetchError(f"HTTP {status} without Location", kind="http_error", status=status)
                try:  # a redirect's credentials are not sent, nor kept as the page's URL
                    nxt = strip_credentials(urljoin(current, location))
                except ValueError as exc:
                    raise FetchError(f"bad redirect location {location[:200]!r}: {exc}", kind="bad_url",
                                     status=status) from None
                if nxt in redirects or nxt == current:
                    raise FetchError(f"redirect loop at {nxt[:200]}", kind="redirect_loop", status=status)
                redirects.append(current)
                current = nxt
                continue
            if status == 304:
                return Response(current, 304, headers_out, b"", redirects, time.monotonic() - started)
            if not 200 <= status < 300:  # 4xx, 5xx and the redirects not followed (300, 305...)
                raise FetchError(f"HTTP {status} {reason}".strip(), kind="http_error", status=status,
                                 retry_after=_retry_after(headers_out.get("retry-after")))
            if not t.checked:  # no body at all: the type and length are checked all the same
                t.check()
                if t.error is not None:
                    raise t.error
            return Response(current, status, headers_out, b"".join(t.chunks), redirects, time.monotonic() - started)
        raise FetchError(f"too many redirects (> {s.max_redirects})", kind="redirect_loop")

    def _perform(self, url: str, header_lines: list[bytes], max_bytes: int, accept_types, left: float) -> _Transfer:
        """One request (no redirect followed); raises :class:`FetchError` for anything but a received answer."""
        c = self._handle()
        t = _Transfer(max_bytes, accept_types)
        self._local.transfer = t
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTPHEADER, header_lines)
        c.setopt(pycurl.HEADERFUNCTION, t.header)
        c.setopt(pycurl.WRITEFUNCTION, t.write)
        c.setopt(pycurl.TIMEOUT_MS, max(1, int(left * 1000)))
        began = time.monotonic()
        try:
            c.perform()
        except pycurl.error as exc:
            code = exc.args[0] if exc.args else 0
            message = exc.args[1] if len(exc.args) > 1 else str(exc)
            if t.error is not None:
                raise t.error from None
            if code == pycurl.E_WRITE_ERROR and t.skip_body:
                return t  # a redirect or an error answer: its body was not wanted
            if t.refused is not None and code == pycurl.E_COULDNT_CONNECT:
                raise ForbiddenAddress(f"refusing to connect to {urlsplit(url).hostname} ({t.refused})") from None
            if code == pycurl.E_OPERATION_TIMEDOUT:
                if time.monotonic() - began >= left - 0.05:  # the run's total deadline, not the read timeout
                    raise FetchError(f"took longer than {self.settings.fetch_total_timeout:.0f}s",
                                     kind="timeout") from None
                raise FetchError(f"timeout: {message}", kind="timeout") from None
            if code == pycurl.E_URL_MALFORMAT:
                raise FetchError(f"bad URL {url[:200]}: {message}", kind="bad_url") from None
            if code == pycurl.E_COULDNT_RESOLVE_HOST:
                raise FetchError(f"DNS lookup failed for {urlsplit(url).hostname}: {message}",
                                 kind="dns_error") from None
            if code in (pycurl.E_RECV_ERROR, pycurl.E_PARTIAL_FILE, pycurl.E_BAD_CONTENT_ENCODING):
                raise FetchError(f"read failed: {message}", kind="read_error") from None
            raise FetchError(f"connection error: {message}", kind="connection_error") from None
        finally:
            self._local.transfer = None
        return t
