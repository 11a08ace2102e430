"""Settings from the environment (and CLI overrides). Secrets are never logged: see ``Settings.redacted``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SECRET_FIELDS = {"es_api_key", "es_password", "smtp_password"}


def _ner(value: str) -> str:
    if value not in ("corenlp", "rules"):
        raise ValueError(f"NEWSWATCH_NER={value!r}: expected 'corenlp' or 'rules'")
    return value


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the message names the variable."""


def _num(name: str, default, kind=float):
    """The number in ``$name`` (``default`` when unset); a clear error naming the variable otherwise."""
    value = _env(name)
    if value is None:
        return kind(default)
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _header(name: str, default: str) -> str:
    """A setting that goes into a mail or HTTP header: a line break in it would start a header of its own."""
    value = _env(name, default)
    if any(c in value for c in "\r\n\0"):
        raise SettingsError(f"{name}={value!r} holds a line break; it goes into a header and must be one line")
    return value


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _rates_url(value: str | None) -> str | None:
    return None if (value or "").strip().lower() in {"", "off", "none", "0", "false"} else value


def default_home() -> Path:
    """Where newswatch keeps downloads, the local ES node, spools and state (outside git)."""
    explicit = _env("NEWSWATCH_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    home = PROJECT_ROOT / ".cache"
    if os.geteuid() == 0 and any(p.exists() and not p.stat().st_mode & 0o001 for p in home.parents):
        # as root the local ES node runs as `nobody`, who must be able to reach its files
        import hashlib

        return Path("/var/tmp/newswatch") / hashlib.sha1(str(PROJECT_ROOT).encode()).hexdigest()[:10]
    return home


@dataclass(frozen=True)
class Settings:
    # Elasticsearch
    es_url: str | None = None  # None = the local node managed by `newswatch es start`
    es_api_key: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    es_ca_certs: str | None = None
    es_verify_certs: bool = True
    index_prefix: str = "newswatch"
    es_bulk_size: int = 200
    es_timeout: float = 30.0
    es_refresh_interval: str = "30s"  # stories indices; each run also refreshes them once at its end
    # local ES node
    es_version: str = "9.5.4"
    es_port: int = 9200
    es_heap: str = "512m"
    home: Path = field(default_factory=default_home)
    java_home: str | None = None
    # HTTP fetching
    allow_private_addresses: bool = False
    allow_loopback: bool = False
    fetch_timeout: float = 15.0
    fetch_total_timeout: float = 30.0
    max_page_bytes: int = 5 * 1024 * 1024
    max_feed_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    http_retries: int = 2  # polite retries of 429/503 answers
    max_retry_after: float = 10.0  # longest Retry-After we wait for inside a run
    fetch_concurrency: int = 16
    cpu_workers: int | None = None  # processes for extract/enrich in an in-process Beam worker; None = auto
    staging_dir: str | None = None  # where a run's entries are staged for the Beam workers; None = <home>/staging
    min_text_chars: int = 200  # shorter main text = "no extractable text" (menus, paywalls, error pages)
    lock_ttl: float = 3600.0  # seconds before a crashed run's ingest lock may be taken over
    min_free_mb: int = 50  # a run stages its new entries under NEWSWATCH_HOME, and spools there when ES is down
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch)"
    # politeness (newswatch.connectors.polite): story pages, not the feeds the user listed
    obey_robots: bool = True
    robots_ttl: float = 3600.0  # seconds a host's robots.txt is kept
    per_host_concurrency: int = 2  # requests at once to one host
    per_host_delay: float = 0.5  # seconds between the starts of two requests to one host (or its Crawl-delay)
    max_host_backoff: float = 120.0  # longest Retry-After waited for in a run; a host asking more is left for later
    # feed health (newswatch.connectors.feed_health)
    feed_backoff: float = 900.0  # seconds before a feed that failed is polled again; doubles with each failure
    feed_quarantine_after: int = 5  # failures in a row after which a feed is no longer polled (feeds reset URL)
    # syndicated copies (newswatch.clustering)
    cluster_threshold: float = 0.6  # share of the shorter text (in 5-word shingles) two copies have in common
    cluster_window_days: float = 7.0  # a new story is compared with the stories ingested in this many days
    # exchange rates the ECB has not (newswatch.connectors.rates); rates_url None = never fetch
    rates_url: str | None = "https://www.cbr.ru/scripts/XML_daily.asp"
    rates_dir: str | None = None  # None = <home>/rates
    rates_max_dates: int = 31  # documents fetched per run at most
    rates_delay: float = 0.5  # seconds between two requests to the rate source
    # named-entity recogniser: "corenlp" (the service at nlp_url, or the local one) or "rules" (gazetteer + rules)
    ner: str = "corenlp"
    nlp_url: str | None = None  # None = the local service managed by `newswatch nlp start`
    nlp_port: int = 9310
    nlp_bind: str = "127.0.0.1"
    nlp_heap: str = "1g"
    nlp_threads: int = 2
    nlp_timeout: float = 20.0  # seconds for one request (a batch of stories)
    nlp_max_chars: int = 30_000  # characters of a story the recogniser reads
    # SMTP (alerts)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "newswatch@localhost"
    smtp_timeout: float = 20.0
    # alerts
    rules_file: str | None = None  # None = the bundled newswatch/data/rules.yaml
    alert_lease: float = 900.0  # seconds after which a digest claimed by a dead run is sent again

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values = dict(
            es_url=_env("ES_URL"),
            es_api_key=_env("ES_API_KEY"),
            es_username=_env("ES_USERNAME"),
            es_password=_env("ES_PASSWORD"),
            es_ca_certs=_env("ES_CA_CERTS"),
            es_verify_certs=_bool("ES_VERIFY_CERTS", True),
            index_prefix=_env("NEWSWATCH_INDEX_PREFIX", "newswatch"),
            es_bulk_size=_num("NEWSWATCH_ES_BULK_SIZE", "200", int),
            es_refresh_interval=_env("NEWSWATCH_ES_REFRESH_INTERVAL", cls.es_refresh_interval),
            es_version=_env("NEWSWATCH_ES_VERSION", cls.es_version),
            es_port=_num("NEWSWATCH_ES_PORT", "9200", int),
            es_heap=_env("NEWSWATCH_ES_HEAP", "512m"),
            home=default_home(),
            java_home=_env("ES_JAVA_HOME") or _env("NEWSWATCH_JAVA_HOME"),
            allow_private_addresses=_bool("NEWSWATCH_ALLOW_PRIVATE", False),
            allow_loopback=_bool("NEWSWATCH_ALLOW_LOOPBACK", False),
            fetch_timeout=_num("NEWSWATCH_FETCH_TIMEOUT", "15", float),
            fetch_total_timeout=_num("NEWSWATCH_FETCH_TOTAL_TIMEOUT", "30", float),
            max_page_bytes=_num("NEWSWATCH_MAX_PAGE_BYTES", 5 * 1024 * 1024, int),
            fetch_concurrency=_num("NEWSWATCH_FETCH_CONCURRENCY", "16", int),
            cpu_workers=_num("NEWSWATCH_CPU_WORKERS", 0, int) if _env("NEWSWATCH_CPU_WORKERS") else None,
            staging_dir=_env("NEWSWATCH_STAGING_DIR"),
            min_text_chars=_num("NEWSWATCH_MIN_TEXT_CHARS", "200", int),
            lock_ttl=_num("NEWSWATCH_LOCK_TTL", "3600", float),
            min_free_mb=_num("NEWSWATCH_MIN_FREE_MB", "50", int),
            ner=_ner(_env("NEWSWATCH_NER", "corenlp")),
            nlp_url=_env("NEWSWATCH_NLP_URL"),
            nlp_port=_num("NEWSWATCH_NLP_PORT", "9310", int),
            nlp_bind=_env("NEWSWATCH_NLP_BIND", "127.0.0.1"),
            nlp_heap=_env("NEWSWATCH_NLP_HEAP", "1g"),
            nlp_threads=_num("NEWSWATCH_NLP_THREADS", "2", int),
            nlp_timeout=_num("NEWSWATCH_NLP_TIMEOUT", "20", float),
            nlp_max_chars=_num("NEWSWATCH_NLP_MAX_CHARS", "30000", int),
            user_agent=_header("NEWSWATCH_USER_AGENT", cls.user_agent),
            obey_robots=_bool("NEWSWATCH_OBEY_ROBOTS", True),
            robots_ttl=_num("NEWSWATCH_ROBOTS_TTL", "3600", float),
            per_host_concurrency=_num("NEWSWATCH_PER_HOST_CONCURRENCY", "2", int),
            per_host_delay=_num("NEWSWATCH_PER_HOST_DELAY", "0.5", float),
            max_host_backoff=_num("NEWSWATCH_MAX_HOST_BACKOFF", "120", float),
            feed_backoff=_num("NEWSWATCH_FEED_BACKOFF", "900", float),
            feed_quarantine_after=_num("NEWSWATCH_FEED_QUARANTINE_AFTER", "5", int),
            cluster_threshold=_num("NEWSWATCH_CLUSTER_THRESHOLD", "0.6", float),
            cluster_window_days=_num("NEWSWATCH_CLUSTER_WINDOW_DAYS", "7", float),
            smtp_host=_env("SMTP_HOST"),
            smtp_port=_num("SMTP_PORT", "25", int),
            smtp_username=_env("SMTP_USERNAME"),
            smtp_password=_env("SMTP_PASSWORD"),
            smtp_starttls=_bool("SMTP_STARTTLS", False),
            smtp_ssl=_bool("SMTP_SSL", False),
            smtp_from=_header("SMTP_FROM", "newswatch@localhost"),
            smtp_timeout=_num("SMTP_TIMEOUT", "20", float),
            rules_file=_env("NEWSWATCH_RULES"),
            rates_url=_rates_url(_env("NEWSWATCH_RATES_URL", cls.rates_url)),
            rates_dir=_env("NEWSWATCH_RATES_DIR"),
            rates_max_dates=_num("NEWSWATCH_RATES_MAX_DATES", cls.rates_max_dates, int),
            rates_delay=_num("NEWSWATCH_RATES_DELAY", cls.rates_delay, float),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def public(self) -> dict:
        """Every non-secret setting, JSON-safe: what may be passed as (and stored with) a flow parameter."""
        return {f.name: (str(getattr(self, f.name)) if isinstance(getattr(self, f.name), Path) else getattr(self, f.name))
                for f in fields(self) if f.name not in SECRET_FIELDS}

    @classmethod
    def from_public(cls, overrides: dict | None) -> "Settings":
        """Settings from the environment with non-secret ``overrides`` (secrets only ever come from env)."""
        overrides = dict(overrides or {})
        bad = SECRET_FIELDS & set(overrides)
        if bad:
            raise ValueError(f"secrets cannot be passed as parameters: {sorted(bad)}; use the environment")
        if "home" in overrides and overrides["home"] is not None:
            overrides["home"] = Path(overrides["home"])
        return cls.from_env(**overrides)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def local_es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    @property
    def effective_es_url(self) -> str:
        return self.es_url or self.local_es_url

    @property
    def local_nlp_url(self) -> str:
        return f"http://127.0.0.1:{self.nlp_port}"

    @property
    def effective_nlp_url(self) -> str:
        return self.nlp_url or self.local_nlp_url

    @property
    def nlp_config(self):
        """What the enrich stage needs to call the recogniser, or None for rules only."""
        from .connectors.nlp import NlpConfig

        if self.ner != "corenlp":
            return None
        return NlpConfig(self.effective_nlp_url, self.nlp_timeout, self.nlp_max_chars)

    @property
    def effective_rates_dir(self) -> str:
        return self.rates_dir or str(Path(self.home) / "rates")

    @property
    def effective_staging_dir(self) -> str:
        """A local directory, or any location Beam's FileSystems can write (gs://..., s3://...)."""
        return self.staging_dir or str(self.home / "staging")

    def index(self, name: str) -> str:
        """Name of one of newswatch's indices/aliases: stories, errors, feeds, runs, alerts..."""
        return f"{self.index_prefix}-{name}"

    def redacted(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if (f.name in SECRET_FIELDS and value) else (str(value) if isinstance(value, Path) else value)
        return out

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"Settings({self.redacted()!r})"
