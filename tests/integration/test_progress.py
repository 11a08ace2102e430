"""What a user sees while a run works: a live display on a terminal, periodic log lines elsewhere, and an end
summary with elapsed time, stories/s and (--per-feed) each feed's counts."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture()
def paced_site(fixtures_dir):
    from newswatch.sampleserver import SampleServer

    with SampleServer(fixtures_dir, delay=0.4) as server:  # each page takes a while: the run lasts seconds
        yield server


def _env(settings, tmp_path, api_url, **extra) -> dict:
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix,
               NEWSWATCH_HOME=str(settings.home), NEWSWATCH_ALLOW_LOOPBACK="1", NEWSWATCH_FETCH_CONCURRENCY="1",
               PREFECT_HOME=str(tmp_path / "ph"), PREFECT_API_URL=api_url, COLUMNS="160",
               PREFECT_LOGGING_LEVEL="INFO")  # the suite's default is WARNING
    env.pop("NEWSWATCH_PROGRESS", None)
    env.update(extra)
    return env


def _feeds(tmp_path, server) -> str:
    path = tmp_path / "feeds.txt"
    path.write_text(f"{server.url('feeds/central-asia.rss.xml')}\n{server.url('feeds/asia-world.atom.xml')}\n")
    return str(path)


def test_log_lines_while_running_and_a_summary_with_rate_and_per_feed_counts(settings, paced_site, tmp_path,
                                                                            prefect_api_url):
    feeds = _feeds(tmp_path, paced_site)
    env = _env(settings, tmp_path, prefect_api_url, NEWSWATCH_PROGRESS="log", NEWSWATCH_PROGRESS_EVERY="0.5")
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "run", "--feeds", feeds, "--per-feed"], env=env,
                         capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    lines = re.findall(r"progress: pages (\d+)/(\d+) fetched, (\d+) extracted, (\d+) indexed", text)
    assert len(lines) >= 2, text[-3000:]  # periodic, through Prefect's run logger
    (total,) = {int(t) for _f, t, _e, _i in lines}  # the new stories of the two fixture feeds
    assert total >= 7
    fetched = [int(f) for f, _t, _e, _i in lines]
    assert fetched == sorted(fetched) and fetched[0] < total  # seen while running, not only at the end
    assert re.search(r"elapsed \d+\.\d s, \d+\.\d stories/s", text)
    per_feed = text[text.index("per feed"):]
    assert "central-asia.rss.xml" in per_feed and "asia-world.atom.xml" in per_feed


def test_a_terminal_gets_a_live_display(settings, paced_site, tmp_path, prefect_api_url):
    feeds = _feeds(tmp_path, paced_site)
    env = _env(settings, tmp_path, prefect_api_url, TERM="xterm")
    pid, fd = pty.fork()
    if pid == 0:  # the child: newswatch on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "newswatch.cli", "run", "--feeds", feeds], env)
    chunks, deadline = [], time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, screen[-3000:]
    assert re.search(r"pages.*\d+/\d+.*fetched \d+ · extracted \d+ · indexed \d+", screen), screen[-3000:]
    assert "progress: pages" not in screen  # the display, not log lines, on a terminal
