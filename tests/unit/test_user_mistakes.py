"""A user's mistakes get one clear line and a non-zero exit code, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_DEBUG")} | env
    return subprocess.run([sys.executable, "-m", "newswatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=full)


def _one_clear_line(out: subprocess.CompletedProcess, *words: str) -> str:
    text = (out.stdout + out.stderr).strip()
    assert "Traceback" not in text, text
    assert out.returncode != 0
    lines = [line for line in text.splitlines() if "error" in line]
    assert len(lines) == 1 and all(w in lines[0] for w in words), text
    return lines[0]


def test_version():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("newswatch ")


@pytest.mark.parametrize("command, env", [("run", {}), ("serve", {"PREFECT_API_URL": "http://127.0.0.1:1/api"})])
def test_a_missing_feeds_file_is_one_line(tmp_path, command, env):
    _one_clear_line(_cli(command, "--feeds", str(tmp_path / "feds.yaml"), **env), "feeds file not found", "feds.yaml")


def test_a_feeds_file_without_feeds_or_with_bad_yaml(tmp_path):
    empty = tmp_path / "feeds.yaml"
    empty.write_text("feeds: []\n")
    _one_clear_line(_cli("run", "--feeds", str(empty)), "lists no feeds")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [ {url: \n")
    _one_clear_line(_cli("run", "--feeds", str(bad)), "cannot be used")


def test_a_setting_that_is_not_a_number_names_the_variable(tmp_path):
    line = _one_clear_line(_cli("doctor", NEWSWATCH_FETCH_TIMEOUT="fast", NEWSWATCH_HOME=str(tmp_path)),
                           "NEWSWATCH_FETCH_TIMEOUT")
    assert "'fast'" in line and "number" in line


def test_options_are_never_abbreviated(tmp_path):
    out = _cli("run", "--feed", str(tmp_path / "x"))
    assert out.returncode == 2 and "unrecognized arguments: --feed" in out.stderr and "Traceback" not in out.stderr


def test_debug_lets_the_traceback_through(tmp_path):
    out = _cli("run", "--feeds", str(tmp_path / "none.txt"), NEWSWATCH_DEBUG="1")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_an_unreachable_elasticsearch_is_one_line():
    _one_clear_line(_cli("search", "loan", ES_URL="http://127.0.0.1:1"), "Elasticsearch is not reachable", "ES_URL")
