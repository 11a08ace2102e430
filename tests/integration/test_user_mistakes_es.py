"""Asking a real Elasticsearch for what is not there yet is one clear line."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent


def test_search_before_anything_was_ingested(settings):
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix)
    env.pop("NEWSWATCH_DEBUG", None)
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "search", "loan"], env=env, capture_output=True,
                         text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in text
    assert "no such index" in text and "newswatch run" in text and len(text.strip().splitlines()) == 1


def _env(settings, prefect_api_url, **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": prefect_api_url, "ES_URL": settings.es_url,
           "NEWSWATCH_INDEX_PREFIX": settings.index_prefix, "NEWSWATCH_HOME": str(settings.home),
           "NEWSWATCH_ALLOW_LOOPBACK": "1", "NEWSWATCH_NER": "rules", "NEWSWATCH_CPU_WORKERS": "0",
           "COLUMNS": "250", **extra}
    env.pop("NEWSWATCH_DEBUG", None)
    return env


def _run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newswatch.cli", "run", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@contextlib.contextmanager
def _full_disk(path: Path):
    """A real file system with no space left: a small tmpfs, filled."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill: {mounted.stderr.decode().strip()}")
    try:
        with open(path / "fill", "wb") as fh:
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 65536)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.heavy
def test_a_full_disk_mid_run_fails_the_run_in_one_line_and_loses_nothing(settings, feeds_file, prefect_api_url,
                                                                         es_client, tmp_path):
    feeds = feeds_file("central-asia.rss.xml")
    with _full_disk(tmp_path / "full") as full:
        out = _run(_env(settings, prefect_api_url, NEWSWATCH_STAGING_DIR=str(full / "staging")), "--feeds", feeds)
    text = out.stdout + out.stderr
    assert out.returncode == 1 and "Traceback" not in text, text
    assert "No space left on device" in text and "fetched again next run" in text
    (stored,) = (Path(settings.home) / "runs").glob("*.json")
    assert json.loads(stored.read_text())["status"] == "failed"
    # the disk has room again: the next run fetches the same new stories (the feed state was not committed)
    again = _run(_env(settings, prefect_api_url), "--feeds", feeds)
    assert again.returncode == 0, again.stdout + again.stderr
    latest = max((Path(settings.home) / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    counts = json.loads(latest.read_text())["counts"]
    assert counts["new"] > 0 and counts["indexed"] == counts["new"] - counts["failed"] and counts["indexed"] > 0


def test_run_prints_as_many_examples_as_asked(settings, feeds_file, prefect_api_url, es_client):
    out = _run(_env(settings, prefect_api_url), "--feeds", feeds_file("central-asia.rss.xml", "asia-world.atom.xml"),
               "--examples", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    es_client.indices.refresh(index=settings.index("stories"))
    titles = [h["_source"]["title"] for h in es_client.search(index=settings.index("stories"), size=100,
                                                               source=["title"])["hits"]["hits"]]
    assert len(titles) > 2
    table = out.stdout[out.stdout.index("example stories"):]
    assert sum(t[:40] in table for t in titles) == 2
