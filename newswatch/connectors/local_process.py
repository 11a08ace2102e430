"""What the local services (Elasticsearch, CoreNLP, Flink's job server) share: their pid files, stopping their
process group, the tail of their logs, and fetching their jars with Maven."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_group(pid_file: Path, timeout: float, poll: float = 0.3) -> bool:
    """Stop the process group whose leader's pid is in ``pid_file`` (SIGTERM, then SIGKILL after ``timeout``);
    True if one was running."""
    pid = read_pid(pid_file)
    if not pid or not pid_alive(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(poll)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def maven_fetch(root: Path, pom: str, output_dir: Path, quiet: bool, error: type[Exception], what: str) -> None:
    """Copy the runtime dependencies of ``pom`` (written to ``root/pom.xml``) into ``output_dir`` with Maven;
    ``error(message)`` is raised when Maven is missing or fails."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise error(f"Maven (`mvn`) is needed to fetch {what}: apt-get install maven")
    root.mkdir(parents=True, exist_ok=True)
    (root / "pom.xml").write_text(pom)
    cmd = [mvn, "-B", "dependency:copy-dependencies", f"-DoutputDirectory={output_dir}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise error(f"could not fetch {what} with Maven:\n{(proc.stdout + proc.stderr)[-2000:]}")
