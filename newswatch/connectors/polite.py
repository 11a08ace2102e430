"""Crawling like a good citizen: robots.txt (protego) and per-host pacing.

* :class:`RobotsCache` fetches a host's ``robots.txt`` once (through the same fetcher, so the address guard and
  limits apply) and keeps it for ``robots_ttl`` seconds. As RFC 9309 says: a 4xx answer means no rules (all
  allowed); a 5xx answer, a 429 or a failed connection means the site is unreachable, so nothing is allowed
  until it is asked again (after ``ROBOTS_RETRY`` seconds). ``Crawl-delay`` and ``Request-rate`` become the
  host's minimum delay between requests.
* :class:`PoliteExecutor` runs fetches on ``total`` threads, at most ``per_host`` at once for one host, starting
  requests to one host at least ``delay`` seconds apart; a thread always takes the next request of a host that
  may be contacted now, so a slow or paced host never holds up the others. A 429 or 503 answer puts the whole
  host in backoff (``Retry-After``, else an exponential wait); its requests are retried after it.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future
from urllib.parse import urlsplit

from protego import Protego

from .http import FetchError, Fetcher, Response

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
ROBOTS_RETRY = 600.0  # seconds before an unreachable robots.txt is asked again
ALLOW_ALL = Protego.parse("")


def host_key(url: str) -> str:
    """scheme://host:port: robots.txt and politeness are per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RobotsDisallowed(FetchError):
    def __init__(self, reason: str, kind: str = "robots", status: int | None = None):
        super().__init__(reason, kind=kind, status=status)


class RobotsCache:
    """robots.txt per host, fetched once and kept ``ttl`` seconds (thread-safe; one fetch per host at a time)."""

    def __init__(self, fetcher: Fetcher, user_agent: str, ttl: float):
        self.fetcher = fetcher
        self.agent = user_agent.split("/", 1)[0].strip() or user_agent  # the product token robots.txt names
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Protego | None, FetchError | None]] = {}  # host -> (expires, rules, why)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0

    def rules(self, url: str) -> tuple[Protego | None, FetchError | None]:
        """(rules, why); rules None means nothing may be fetched from the host (the error ``why`` says why)."""
        host = host_key(url)
        entry = self._entries.get(host)
        if entry and entry[0] > time.monotonic():
            return entry[1], entry[2]
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            entry = self._entries.get(host)
            if entry and entry[0] > time.monotonic():
                return entry[1], entry[2]
            rules, why, ttl = self._fetch(host)
            self._entries[host] = (time.monotonic() + ttl, rules, why)
            return rules, why

    def _fetch(self, host: str) -> tuple[Protego | None, FetchError | None, float]:
        self.fetches += 1
        try:
            resp = self.fetcher.get(host + "/robots.txt", accept_types=None, max_bytes=ROBOTS_MAX_BYTES, retries=0)
        except FetchError as exc:
            if exc.kind == "too_large":
                return ALLOW_ALL, None, self.ttl  # nothing usable in it: no rules
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return ALLOW_ALL, None, self.ttl  # no robots.txt: no rules
            if exc.status is None:  # the site itself cannot be reached (or may not be): the page's own error
                why = RobotsDisallowed(f"{exc.reason} (asking {host}/robots.txt)", kind=exc.kind)
            else:
                why = RobotsDisallowed(f"robots.txt of {host} unavailable ({exc.reason}): the site is treated as "
                                       f"disallowing everything for now", status=exc.status)
            return None, why, min(self.ttl, ROBOTS_RETRY)
        return Protego.parse(resp.body.decode("utf-8", "replace")), None, self.ttl

    def check(self, url: str) -> None:
        """Raise :class:`RobotsDisallowed` unless robots.txt lets this user agent fetch ``url``."""
        rules, why = self.rules(url)
        if rules is None:
            raise RobotsDisallowed(why.reason, kind=why.kind, status=why.status)  # a new one per page
        if not rules.can_fetch(url, self.agent):
            raise RobotsDisallowed(f"disallowed by {host_key(url)}/robots.txt for user agent {self.agent!r}")

    def delay(self, url: str) -> float:
        """The host's Crawl-delay (or the interval its Request-rate implies), in seconds; 0 if none."""
        rules, _ = self.rules(url)
        if rules is None:
            return 0.0
        delay = rules.crawl_delay(self.agent) or 0.0
        rate = rules.request_rate(self.agent)
        if rate and rate.requests:
            delay = max(delay, rate.seconds / rate.requests)
        return float(delay)

    def sitemaps(self, url: str) -> list[str]:
        rules, _ = self.rules(url)
        return list(rules.sitemaps) if rules is not None else []


class _Host:
    __slots__ = ("queue", "active", "next_start", "backoff_until", "delay", "failures", "gave_up")

    def __init__(self, delay: float):
        self.queue: deque = deque()
        self.active = 0
        self.next_start = 0.0
        self.backoff_until = 0.0
        self.delay = delay
        self.failures = 0  # consecutive 429/503 answers
        self.gave_up: str | None = None  # the host asked for a longer wait than the run may spend


class PoliteExecutor:
    """Run ``fn(url)`` calls with per-host limits (see the module's doc). ``submit`` returns a Future."""

    def __init__(self, total: int, per_host: int, delay: float, max_backoff: float, retries: int = 2):
        self.total = max(1, total)
        self.per_host = max(1, per_host)
        self.delay = max(0.0, delay)
        self.max_backoff = max_backoff
        self.retries = retries
        self._hosts: OrderedDict[str, _Host] = OrderedDict()
        self._cv = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []

    def submit(self, url: str, fn) -> Future:
        future: Future = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("executor closed")
            host = self._hosts.get(host_key(url))
            if host is None:
                host = self._hosts[host_key(url)] = _Host(self.delay)
            host.queue.append((url, fn, future, 0))
            if len(self._threads) < self.total:
                t = threading.Thread(target=self._work, name=f"newswatch-fetch-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cv.notify()
        return future

    def shutdown(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _next(self):
        """Under the lock: a request that may start now (its host's state updated), or the seconds to wait."""
        now = time.monotonic()
        wait = None
        for key, host in list(self._hosts.items()):
            if not host.queue:
                continue
            if host.gave_up is not None:
                return key, host, host.queue.popleft()
            if host.active >= self.per_host:
                continue
            ready = max(host.next_start, host.backoff_until)
            if ready > now:
                wait = ready - now if wait is None else min(wait, ready - now)
                continue
            self._hosts.move_to_end(key)  # round robin over the hosts
            host.active += 1
            host.next_start = now + host.delay
            return key, host, host.queue.popleft()
        return wait

    def _work(self) -> None:
        while True:
            with self._cv:
                while True:
                    item = self._next()
                    if isinstance(item, tuple):
                        break
                    if self._closed and not any(h.queue for h in self._hosts.values()):
                        return
                    self._cv.wait(timeout=item)
            key, host, (url, fn, future, attempt) = item
            if host.gave_up is not None:
                future.set_exception(FetchError(host.gave_up, kind="rate_limited", status=429))
                continue
            self._run(key, host, url, fn, future, attempt)

    def _run(self, key: str, host: _Host, url: str, fn, future: Future, attempt: int) -> None:
        try:
            result = fn(url)
        except FetchError as exc:
            if exc.status in (429, 503) and not isinstance(exc, RobotsDisallowed):  # the host asks to slow down
                wait = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0 * 2 ** host.failures)
                with self._cv:
                    host.active -= 1
                    host.failures += 1
                    if wait > self.max_backoff:
                        host.gave_up = (f"HTTP {exc.status}: {key} asks to wait {wait:.0f} s (more than "
                                        f"{self.max_backoff:.0f} s); its pages are left for a later run")
                    else:
                        host.backoff_until = max(host.backoff_until, time.monotonic() + wait)
                    retry = attempt < self.retries and host.gave_up is None
                    if retry:
                        host.queue.appendleft((url, fn, future, attempt + 1))
                    self._cv.notify_all()
                if not retry:
                    if host.gave_up is not None:
                        exc.reason += f" ({host.gave_up})"
                    future.set_exception(exc)
                return
            self._done(host, success=False)
            future.set_exception(exc)
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            self._done(host, success=False)
            future.set_exception(exc)
            return
        self._done(host, success=True)
        future.set_result(result)

    def _done(self, host: _Host, success: bool) -> None:
        with self._cv:
            host.active -= 1
            if success:
                host.failures = 0
            self._cv.notify_all()

    def set_delay(self, url: str, delay: float) -> None:
        """A host's own minimum delay (robots.txt's Crawl-delay): the larger of it and the setting applies."""
        with self._cv:
            host = self._hosts.get(host_key(url))
            if host is not None and delay > host.delay:
                host.next_start += delay - host.delay
                host.delay = delay


class PoliteFetcher:
    """A :class:`Fetcher` for story pages: robots.txt honoured, per-host pacing, 429/503 as host backoff."""

    def __init__(self, fetcher: Fetcher):
        s = self.settings = fetcher.settings
        self.fetcher = fetcher
        self.robots = RobotsCache(fetcher, s.user_agent, s.robots_ttl) if s.obey_robots else None
        self.executor = PoliteExecutor(s.fetch_concurrency, s.per_host_concurrency, s.per_host_delay,
                                       s.max_host_backoff, retries=s.http_retries)
        self._robots_asked: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, url: str, **kwargs) -> Future:
        """Fetch ``url`` (a story page) politely; the Future gives the :class:`Response` or raises FetchError."""
        if self.robots is not None:
            key = host_key(url)
            with self._lock:
                first = key not in self._robots_asked
                self._robots_asked.add(key)
            if first:  # robots.txt is the host's first request, paced like the others
                self.executor.submit(url, self._load_robots)
        return self.executor.submit(url, lambda u: self._get(u, **kwargs))

    def _load_robots(self, url: str) -> None:
        delay = self.robots.delay(url)
        if delay:
            self.executor.set_delay(url, delay)

    def _get(self, url: str, **kwargs) -> Response:
        if self.robots is not None:
            self.robots.check(url)
        return self.fetcher.get(url, retries=0, **kwargs)

    def get(self, url: str, **kwargs) -> Response:
        return self.submit(url, **kwargs).result()

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets newswatch fetch ``url`` (asks the host for it if not known yet)."""
        if self.robots is None:
            return True
        try:
            self.robots.check(url)
        except FetchError:
            return False
        return True

    def shutdown(self) -> None:
        self.executor.shutdown()


def interleave_by_host(items: list[dict], key: str = "link") -> list[dict]:
    """``items`` reordered round robin over their hosts (first of each host, then second...), so that a window
    of consecutive items spans as many hosts as there are."""
    queues: OrderedDict[str, deque] = OrderedDict()
    for item in items:
        queues.setdefault(host_key(item.get(key) or ""), deque()).append(item)
    out: list[dict] = []
    while queues:
        for host in list(queues):
            out.append(queues[host].popleft())
            if not queues[host]:
                del queues[host]
    return out
