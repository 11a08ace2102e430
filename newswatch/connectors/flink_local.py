"""Run the Beam pipeline on Apache Flink without Docker.

Beam's portable FlinkRunner starts a *job server* from a jar (``--flink_job_server_jar``) and, with
``--flink_master=[local]`` (the default), runs an embedded Flink cluster in it; the Python SDK harness runs in
this process (``--environment_type=LOOPBACK``) or as a local process (``PROCESS``).

Beam publishes the job server as a shaded jar, but it is not on the Maven Central this project can reach;
the runner itself (``beam-runners-flink-1.19``) and its dependencies are. The setup step therefore fetches
that runner with all its dependencies (``mvn dependency:copy-dependencies``) into ``$NEWSWATCH_HOME/flink``
and writes a small launcher jar whose manifest names ``FlinkJobServerDriver`` as its main class and the
fetched jars as its class path: Beam runs it like the published jar. Version 2.62.0 is the newest for which
the runner and its job-service module are both on Maven Central; the Python SDK (2.77) talks to it over
Beam's portable API. Flink 1.19 needs Java 11 or 17.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from ..settings import Settings
from .es_local import _java_version
from .local_process import maven_fetch

BEAM_JAVA_VERSION = os.environ.get("NEWSWATCH_BEAM_FLINK_VERSION", "2.62.0")
FLINK_VERSION = "1.19"
MAIN_CLASS = "org.apache.beam.runners.flink.FlinkJobServerDriver"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>newswatch</groupId><artifactId>flink-job-server</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-flink-{flink}</artifactId>
      <version>{beam}</version></dependency>
    <dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-java-job-service</artifactId>
      <version>{beam}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""


class FlinkSetupError(RuntimeError):
    pass


def flink_dir(settings: Settings) -> Path:
    return settings.home / "flink" / f"beam-{BEAM_JAVA_VERSION}-flink-{FLINK_VERSION}"


def job_server_jar(settings: Settings) -> Path:
    return flink_dir(settings) / "beam-flink-job-server.jar"


def _manifest(classpath: list[str]) -> bytes:
    """A JAR manifest; lines are wrapped at 72 bytes with a leading space on continuations."""
    lines = ["Manifest-Version: 1.0", f"Main-Class: {MAIN_CLASS}", "Class-Path: " + " ".join(classpath)]
    out = []
    for line in lines:
        data = line.encode()
        out.append(data[:72])
        data = data[72:]
        while data:
            out.append(b" " + data[:71])
            data = data[71:]
    return b"\r\n".join(out) + b"\r\n\r\n"


def install(settings: Settings, quiet: bool = True) -> Path:
    """Fetch the Flink runner and its dependencies with Maven (once) and write the launcher jar."""
    jar = job_server_jar(settings)
    if jar.is_file():
        return jar
    root = flink_dir(settings)
    lib = root / "lib"
    maven_fetch(root, POM.format(flink=FLINK_VERSION, beam=BEAM_JAVA_VERSION), lib, quiet, FlinkSetupError,
                f"beam-runners-flink-{FLINK_VERSION}:{BEAM_JAVA_VERSION}")
    jars = sorted(p.name for p in lib.glob("*.jar"))
    tmp = jar.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", _manifest([f"lib/{name}" for name in jars]))
    tmp.rename(jar)
    return jar


def find_java_for_flink() -> Path:
    """A JDK Flink 1.19 supports (17 or 11): NEWSWATCH_FLINK_JAVA_HOME, then /usr/lib/jvm."""
    explicit = os.environ.get("NEWSWATCH_FLINK_JAVA_HOME")
    if explicit:
        return Path(explicit)
    jvm = Path("/usr/lib/jvm")
    candidates = [p for p in jvm.iterdir() if (p / "bin" / "java").exists()] if jvm.is_dir() else []
    for wanted in (17, 11):
        for home in candidates:
            if _java_version(home) == wanted:
                return home
    raise FlinkSetupError("Flink 1.19 needs Java 11 or 17: install one (apt-get install openjdk-17-jdk-headless) "
                          "or set NEWSWATCH_FLINK_JAVA_HOME")


def is_flink(beam_args: list[str]) -> bool:
    return any(a in ("--runner=FlinkRunner", "--runner=flink") for a in beam_args) or (
        "--runner" in beam_args and beam_args[beam_args.index("--runner") + 1:][:1] == ["FlinkRunner"])


def prepare(settings: Settings, beam_args: list[str]) -> list[str]:
    """Complete FlinkRunner options: the launcher jar, LOOPBACK SDK harness, a Java Flink supports."""
    args = list(beam_args)
    if not is_flink(args):
        return args
    if not any(a.startswith("--flink_job_server_jar") for a in args):
        args.append(f"--flink_job_server_jar={install(settings)}")
    if not any(a.startswith("--environment_type") for a in args):
        args.append("--environment_type=LOOPBACK")
    os.environ["JAVA_HOME"] = str(find_java_for_flink())  # Beam starts the job server with $JAVA_HOME/bin/java
    return args
