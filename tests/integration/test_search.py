"""`newswatch search` over fixture stories on the real server."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_search_command_filters(settings, feeds_file, prefect_harness, tmp_path):
    from newswatch.flows.ingest import ingest_flow

    ingest_flow(feeds_file("central-asia.rss.xml", "asia-world.atom.xml"), overrides=settings.public())
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix)

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "newswatch.cli", "search", *args, "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    loans = run("loan", "--country", "UZ")
    assert [h["title"] for h in loans] == ["ADB approves $150 million loan for Uzbekistan solar and grid upgrade"]
    assert loans[0]["largest_amount"]["usd"] >= 1.2e9
    big = run("*", "--min-usd", "1e10")
    titles = [h["title"] for h in big]
    assert any(t.startswith("CCP's Financial Infiltration") for t in titles)
    assert any(t.startswith("Beijing Reaching Out") for t in titles)
    assert all(h["largest_amount"]["usd"] >= 1e10 for h in big)
    assert run("*", "--since", "7d") == []  # the fixture stories are years old
    table = subprocess.run([sys.executable, "-m", "newswatch.cli", "search", "gas pipeline"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert "Turkmenistan secures" in table.stdout.replace("\n", " ") or "Turkmenistan" in table.stdout
