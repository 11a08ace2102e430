"""Settings from the environment (and CLI overrides). Secrets are never logged: see ``Settings.redacted``.

One pydantic-settings model: each field's default, environment variable and meaning are written once, here.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SECRET_FIELDS = {"es_api_key", "es_password", "smtp_password"}


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the message names the variable."""


def default_home() -> Path:
    """Where newswatch keeps downloads, the local ES node, spools and state (outside git)."""
    explicit = os.environ.get("NEWSWATCH_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    home = PROJECT_ROOT / ".cache"
    if os.geteuid() == 0 and any(p.exists() and not p.stat().st_mode & 0o001 for p in home.parents):
        # as root the local ES node runs as `nobody`, who must be able to reach its files
        import hashlib

        return Path("/var/tmp/newswatch") / hashlib.sha1(str(PROJECT_ROOT).encode()).hexdigest()[:10]
    return home


def _env(name: str, default=None, doc: str | None = None, **kw):
    """A field read from ``$name`` (every field names its variable: unnamed, pydantic would read e.g. $HOME)."""
    alias = AliasChoices(*name) if isinstance(name, tuple) else name
    return Field(default, validation_alias=alias, description=doc, **kw)


_WHY = {"int_parsing": "is not a whole number", "float_parsing": "is not a number", "int_from_float": "is not a whole number",
        "bool_parsing": "is not on or off (1/0, true/false, yes/no, on/off)"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, populate_by_name=True, extra="ignore",
                                      case_sensitive=True)

    # Elasticsearch
    es_url: str | None = _env("ES_URL", doc="None = the local node managed by `newswatch es start`")
    es_api_key: str | None = _env("ES_API_KEY")
    es_username: str | None = _env("ES_USERNAME")
    es_password: str | None = _env("ES_PASSWORD")
    es_ca_certs: str | None = _env("ES_CA_CERTS")
    es_verify_certs: bool = _env("ES_VERIFY_CERTS", True)
    index_prefix: str = _env("NEWSWATCH_INDEX_PREFIX", "newswatch")
    es_bulk_size: int = _env("NEWSWATCH_ES_BULK_SIZE", 200)
    es_timeout: float = _env("NEWSWATCH_ES_TIMEOUT", 30.0)
    es_refresh_interval: str = _env("NEWSWATCH_ES_REFRESH_INTERVAL", "30s",
                                    "stories indices; each run also refreshes them once at its end")
    # local ES node
    es_version: str = _env("NEWSWATCH_ES_VERSION", "9.5.4")
    es_port: int = _env("NEWSWATCH_ES_PORT", 9200)
    es_heap: str = _env("NEWSWATCH_ES_HEAP", "512m")
    home: Path = Field(default_factory=default_home, validation_alias="NEWSWATCH_HOME")
    java_home: str | None = _env(("ES_JAVA_HOME", "NEWSWATCH_JAVA_HOME"))
    # HTTP fetching
    allow_private_addresses: bool = _env("NEWSWATCH_ALLOW_PRIVATE", False)
    allow_loopback: bool = _env("NEWSWATCH_ALLOW_LOOPBACK", False)
    fetch_timeout: float = _env("NEWSWATCH_FETCH_TIMEOUT", 15.0, "seconds per read")
    fetch_total_timeout: float = _env("NEWSWATCH_FETCH_TOTAL_TIMEOUT", 30.0, "seconds for a whole page")
    max_page_bytes: int = _env("NEWSWATCH_MAX_PAGE_BYTES", 5 * 1024 * 1024)
    max_feed_bytes: int = _env("NEWSWATCH_MAX_FEED_BYTES", 10 * 1024 * 1024)
    max_redirects: int = _env("NEWSWATCH_MAX_REDIRECTS", 5)
    http_retries: int = _env("NEWSWATCH_HTTP_RETRIES", 2, "polite retries of 429/503 answers")
    max_retry_after: float = _env("NEWSWATCH_MAX_RETRY_AFTER", 10.0, "longest Retry-After waited for inside a fetch")
    fetch_concurrency: int = _env("NEWSWATCH_FETCH_CONCURRENCY", 16)
    cpu_workers: int | None = _env("NEWSWATCH_CPU_WORKERS", None,
                                   "processes for extract/enrich in an in-process Beam worker; None = auto")
    staging_dir: str | None = _env("NEWSWATCH_STAGING_DIR", None,
                                   "where a run's entries are staged for the Beam workers; None = <home>/staging")
    page_cpu_seconds: float = _env("NEWSWATCH_PAGE_CPU_SECONDS", 10.0,
                                   "CPU seconds extracting one page may take in a worker process (0: no limit)")
    page_memory_mb: int = _env("NEWSWATCH_PAGE_MEMORY_MB", 1024,
                               "memory extracting one page may add in a worker process (0: no limit)")
    page_max_tags: int = _env("NEWSWATCH_PAGE_MAX_TAGS", 60_000,
                              "tags a page may hold (counted before parsing, in every worker mode; 0: no limit)")
    min_text_chars: int = _env("NEWSWATCH_MIN_TEXT_CHARS", 200,
                               "shorter main text = no extractable text (menus, paywalls, error pages)")
    lock_ttl: float = _env("NEWSWATCH_LOCK_TTL", 3600.0, "seconds before a crashed run's ingest lock may be taken over")
    min_free_mb: int = _env("NEWSWATCH_MIN_FREE_MB", 50,
                            "a run stages its new entries under NEWSWATCH_HOME, and spools there when ES is down")
    user_agent: str = _env("NEWSWATCH_USER_AGENT", "newswatch/0.1 (+https://github.com/newswatch)")
    # politeness (newswatch.connectors.polite): story pages, not the feeds the user listed
    obey_robots: bool = _env("NEWSWATCH_OBEY_ROBOTS", True)
    robots_ttl: float = _env("NEWSWATCH_ROBOTS_TTL", 3600.0, "seconds a host's robots.txt is kept")
    per_host_concurrency: int = _env("NEWSWATCH_PER_HOST_CONCURRENCY", 2, "requests at once to one host")
    per_host_delay: float = _env("NEWSWATCH_PER_HOST_DELAY", 0.5,
                                 "seconds between the starts of two requests to one host (or its Crawl-delay)")
    max_host_backoff: float = _env("NEWSWATCH_MAX_HOST_BACKOFF", 120.0,
                                   "longest Retry-After waited for in a run; a host asking more is left for later")
    # feed health (newswatch.connectors.feed_health)
    feed_backoff: float = _env("NEWSWATCH_FEED_BACKOFF", 900.0,
                               "seconds before a feed that failed is polled again; doubles with each failure")
    feed_quarantine_after: int = _env("NEWSWATCH_FEED_QUARANTINE_AFTER", 5,
                                      "failures in a row after which a feed is no longer polled (feeds reset URL)")
    # syndicated copies (newswatch.clustering)
    cluster_threshold: float = _env("NEWSWATCH_CLUSTER_THRESHOLD", 0.6,
                                    "share of the shorter text (in 5-word shingles) two copies have in common")
    cluster_window_days: float = _env("NEWSWATCH_CLUSTER_WINDOW_DAYS", 7.0,
                                      "a new story is compared with the stories ingested in this many days")
    # exchange rates the ECB has not (newswatch.connectors.rates); rates_url None = never fetch
    rates_url: str | None = _env("NEWSWATCH_RATES_URL", "https://www.cbr.ru/scripts/XML_daily.asp")
    rates_dir: str | None = _env("NEWSWATCH_RATES_DIR", None, "None = <home>/rates")
    rates_max_dates: int = _env("NEWSWATCH_RATES_MAX_DATES", 31, "documents fetched per run at most")
    rates_delay: float = _env("NEWSWATCH_RATES_DELAY", 0.5, "seconds between two requests to the rate source")
    # named-entity recogniser: "corenlp" (the service at nlp_url, or the local one) or "rules" (gazetteer + rules)
    ner: str = _env("NEWSWATCH_NER", "corenlp")
    nlp_url: str | None = _env("NEWSWATCH_NLP_URL", None, "None = the local service managed by `newswatch nlp start`")
    nlp_port: int = _env("NEWSWATCH_NLP_PORT", 9310)
    nlp_bind: str = _env("NEWSWATCH_NLP_BIND", "127.0.0.1")
    nlp_heap: str = _env("NEWSWATCH_NLP_HEAP", "1g")
    nlp_threads: int = _env("NEWSWATCH_NLP_THREADS", 2)
    nlp_timeout: float = _env("NEWSWATCH_NLP_TIMEOUT", 20.0, "seconds for one request (a batch of stories)")
    nlp_max_chars: int = _env("NEWSWATCH_NLP_MAX_CHARS", 30_000, "characters of a story the recogniser reads")
    # SMTP (alerts)
    smtp_host: str | None = _env("SMTP_HOST")
    smtp_port: int = _env("SMTP_PORT", 25)
    smtp_username: str | None = _env("SMTP_USERNAME")
    smtp_password: str | None = _env("SMTP_PASSWORD")
    smtp_starttls: bool = _env("SMTP_STARTTLS", False)
    smtp_ssl: bool = _env("SMTP_SSL", False)
    smtp_from: str = _env("SMTP_FROM", "newswatch@localhost")
    smtp_timeout: float = _env("SMTP_TIMEOUT", 20.0)
    # alerts
    rules_file: str | None = _env("NEWSWATCH_RULES", None, "None = the bundled newswatch/data/rules.yaml")
    alert_lease: float = _env("NEWSWATCH_ALERT_LEASE", 900.0,
                              "seconds after which a digest claimed by a dead run is sent again")

    @field_validator("ner")
    @classmethod
    def _ner(cls, value: str) -> str:
        if value not in ("corenlp", "rules"):
            raise ValueError("expected 'corenlp' or 'rules'")
        return value

    @field_validator("rates_url", mode="before")
    @classmethod
    def _rates_url(cls, value):
        return None if str(value or "").strip().lower() in {"", "off", "none", "0", "false"} else value

    @field_validator("user_agent", "smtp_from")
    @classmethod
    def _one_line(cls, value: str) -> str:  # it goes into a mail or HTTP header: a line break would start another
        if any(c in value for c in "\r\n\0"):
            raise ValueError("holds a line break; it goes into a header and must be one line")
        return value

    @field_validator("home", mode="after")
    @classmethod
    def _home(cls, value: Path) -> Path:
        return Path(value).expanduser().resolve()

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            e = exc.errors()[0]
            name = e["loc"][0] if e["loc"] else "a setting"
            why = _WHY.get(e["type"]) or e["msg"].removeprefix("Value error, ")
            raise SettingsError(f"{name}={e.get('input')!r}: {why}" if e["type"] not in _WHY
                                else f"{name}={e.get('input')!r} {why}") from None

    def public(self) -> dict:
        """Every non-secret setting, JSON-safe: what may be passed as (and stored with) a flow parameter."""
        return {name: (str(v) if isinstance(v := getattr(self, name), Path) else v)
                for name in type(self).model_fields if name not in SECRET_FIELDS}

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
        return self.model_copy(update=changes)

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
        for name in type(self).model_fields:
            value = getattr(self, name)
            out[name] = "***" if (name in SECRET_FIELDS and value) else (str(value) if isinstance(value, Path) else value)
        return out

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"Settings({self.redacted()!r})"

    __str__ = __repr__
