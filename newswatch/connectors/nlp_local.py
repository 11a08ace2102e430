"""A local Stanford CoreNLP named-entity service for development, the demo and the tests.

CoreNLP (GPL v3 or later) is fetched from Maven Central at setup — ``edu.stanford.nlp:stanford-corenlp`` and its
``models`` classifier jar — into ``$NEWSWATCH_HOME/corenlp/<version>/``; never vendored. Of the 474 MB models
jar only the NER and part-of-speech models are kept (a ~75 MB jar written next to the code jars). CoreNLP's own
``StanfordCoreNLPServer`` listens on every interface and has no option to choose one, so newswatch compiles a
small launcher of its own (``newswatch/data/java/NewswatchNer.java``) against those jars and runs it: the same
CoreNLP pipeline, served on ``127.0.0.1`` only (``NEWSWATCH_NLP_BIND`` names another address, e.g. inside a
compose network).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

from ..settings import Settings
from .es_local import _java_version
from .local_process import maven_fetch, pid_alive, read_pid, stop_group, tail
from .nlp import ready

VERSION = "4.5.10"
LAUNCHER = Path(__file__).resolve().parent.parent / "data" / "java" / "NewswatchNer.java"
# the light pipeline: names only (newswatch's own rules read money, dates and numbers better)
PROPERTIES = {"ner.applyFineGrained": "false", "ner.useSUTime": "false", "ner.applyNumericClassifiers": "false",
              "ner.buildEntityMentions": "true",
              # a line of the main text is a paragraph (or the headline, a byline, a caption): a name never spans two
              "ssplit.newlineIsSentenceBreak": "always"}
KEEP = ("edu/stanford/nlp/models/ner/", "edu/stanford/nlp/models/pos-tagger/english-left3words-distsim")

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>newswatch</groupId><artifactId>corenlp</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>edu.stanford.nlp</groupId><artifactId>stanford-corenlp</artifactId>
      <version>{v}</version></dependency>
    <dependency><groupId>edu.stanford.nlp</groupId><artifactId>stanford-corenlp</artifactId>
      <version>{v}</version><classifier>models</classifier></dependency>
  </dependencies>
</project>
"""


class LocalNlpError(RuntimeError):
    pass


def corenlp_dir(settings: Settings) -> Path:
    return settings.home / "corenlp" / VERSION


def run_dir(settings: Settings) -> Path:
    return settings.home / f"nlp-{settings.nlp_port}"


def log_file(settings: Settings) -> Path:
    return run_dir(settings) / "corenlp.log"


def find_jdk() -> Path:
    """A JDK (with javac) of version 11 or newer under /usr/lib/jvm, or NEWSWATCH_NLP_JAVA_HOME."""
    explicit = os.environ.get("NEWSWATCH_NLP_JAVA_HOME")
    if explicit:
        return Path(explicit)
    jvm = Path("/usr/lib/jvm")
    homes = sorted((p for p in jvm.iterdir() if (p / "bin" / "javac").exists()), key=lambda p: -(
        _java_version(p) or 0)) if jvm.is_dir() else []
    for home in homes:
        if (_java_version(home) or 0) >= 11:
            return home
    raise LocalNlpError("CoreNLP needs a JDK 11 or newer (with javac): apt-get install openjdk-17-jdk-headless, "
                        "or set NEWSWATCH_NLP_JAVA_HOME")


def _slim(models: Path, target: Path) -> None:
    """Copy the entries NER needs out of the models jar (474 MB) into ``target``."""
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(models) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            if info.filename.startswith(KEEP) or info.filename.startswith("META-INF/"):
                out.writestr(info, src.read(info.filename))
    tmp.rename(target)


def install(settings: Settings, quiet: bool = True) -> Path:
    """Fetch CoreNLP with Maven (once), keep the models NER needs, compile the launcher; returns the directory."""
    root = corenlp_dir(settings)
    lib, classes = root / "lib", root / "classes"
    launcher_class = classes / "NewswatchNer.class"
    if launcher_class.is_file() and launcher_class.stat().st_mtime >= LAUNCHER.stat().st_mtime and \
            (lib / "models-ner.jar").is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    if not (lib / "models-ner.jar").is_file():
        fetched = root / "fetched"
        maven_fetch(root, POM.format(v=VERSION), fetched, quiet, LocalNlpError,
                    f"edu.stanford.nlp:stanford-corenlp:{VERSION}")
        lib.mkdir(exist_ok=True)
        for jar in fetched.glob("*.jar"):
            if jar.name.endswith("-models.jar"):
                _slim(jar, lib / "models-ner.jar")
            else:
                shutil.copy2(jar, lib / jar.name)
        shutil.rmtree(fetched, ignore_errors=True)
    classes.mkdir(exist_ok=True)
    javac = find_jdk() / "bin" / "javac"
    proc = subprocess.run([str(javac), "-nowarn", "-cp", f"{lib}/*", "-d", str(classes), str(LAUNCHER)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise LocalNlpError(f"could not compile {LAUNCHER.name}:\n{proc.stderr[-2000:]}")
    return root


def _read_pid(settings: Settings) -> int | None:
    return read_pid(run_dir(settings) / "corenlp.pid")


def command(settings: Settings) -> list[str]:
    root = corenlp_dir(settings)
    java = find_jdk() / "bin" / "java"
    props = [f"{k}={v}" for k, v in PROPERTIES.items()]
    return [str(java), f"-Xmx{settings.nlp_heap}", "-XX:+UseSerialGC", "-cp", f"{root / 'lib'}/*:{root / 'classes'}",
            "NewswatchNer", settings.nlp_bind, str(settings.nlp_port), str(settings.nlp_threads), *props]


def start(settings: Settings, timeout: float = 120.0) -> str:
    """Start the local service (if it is not up) and wait until it answers; returns its URL."""
    url = settings.local_nlp_url
    if ready(url):
        return url
    install(settings)
    rdir = run_dir(settings)
    rdir.mkdir(parents=True, exist_ok=True)
    log = open(log_file(settings), "ab")
    proc = subprocess.Popen(command(settings), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    (rdir / "corenlp.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalNlpError(f"CoreNLP exited with code {proc.returncode} while starting; see "
                                f"{log_file(settings)}:\n{tail(log_file(settings), 15)}")
        if ready(url, timeout=1.0):
            return url
        time.sleep(0.3)
    raise LocalNlpError(f"CoreNLP did not answer at {url} within {timeout:.0f} s; see {log_file(settings)}")


def stop(settings: Settings, timeout: float = 20.0) -> bool:
    """Stop the service :func:`start` started; True if one was running."""
    return stop_group(run_dir(settings) / "corenlp.pid", timeout, poll=0.2)


def status(settings: Settings) -> dict:
    pid = _read_pid(settings)
    url = settings.effective_nlp_url
    return {"url": url, "managed": settings.nlp_url is None, "ready": ready(url),
            "pid": pid if pid and pid_alive(pid) else None, "recogniser": settings.ner,
            "log": str(log_file(settings))}
