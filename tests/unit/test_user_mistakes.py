"""A user's mistakes get one clear line and a non-zero exit code, never a traceback."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

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


@pytest.mark.parametrize("content, words", [
    ("feeds:\n  - title: no url here\n", ["need a 'url'"]),
    ("feeds:\n  - url: http://example.com/f.xml\n    tags: 5\n", ["'tags' must be a list", "not 5"]),
    ("feeds: http://example.com/f.xml\n", ["'feeds' must be a list", "not str"]),
    ("feeds:\n  - url: http://example.com/f.xml\n    name: [a]\n", ["'name' must be text"]),
])
def test_a_feeds_file_with_a_bad_entry_is_one_line(tmp_path, content, words):
    path = tmp_path / "feeds.yaml"
    path.write_text(content)
    line = _one_clear_line(_cli("run", "--feeds", str(path)), "cannot be used", *words)
    assert line.count(str(path)) == 1  # the file is named once


def test_a_feeds_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"feeds:\n  - url: http://example.com/caf\xe9.xml\n")
    _one_clear_line(_cli("run", "--feeds", str(path)), "not UTF-8", "0xe9", "line 2")


def test_a_single_tag_may_be_written_without_a_list(tmp_path):
    from newswatch.connectors.feeds import load_feed_list

    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: http://example.com/f.xml\n    tags: kz\n")
    assert load_feed_list(path)[0].tags == ["kz"]


def test_a_home_that_cannot_be_written_is_one_line_before_anything_starts(tmp_path):
    (tmp_path / "a-file").write_text("")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://example.com/feed.xml\n")
    _one_clear_line(_cli("run", "--feeds", str(feeds), NEWSWATCH_HOME=str(tmp_path / "a-file" / "home")),
                    "NEWSWATCH_HOME", "cannot be written")


def test_a_nearly_full_disk_is_one_line_before_anything_starts(tmp_path):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://example.com/feed.xml\n")
    # more free space than any disk has: the check must refuse, whatever this machine's disk holds
    line = _one_clear_line(_cli("run", "--feeds", str(feeds), NEWSWATCH_HOME=str(tmp_path / "home"),
                                NEWSWATCH_MIN_FREE_MB=str(2 ** 40)), "MB free under NEWSWATCH_HOME")
    assert "free some space" in line


def test_run_against_an_unreachable_elasticsearch_is_one_line(tmp_path):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://example.com/feed.xml\n")
    out = _cli("run", "--feeds", str(feeds), ES_URL=f"http://127.0.0.1:{_closed_port()}",
               NEWSWATCH_HOME=str(tmp_path / "home"))
    _one_clear_line(out, "Elasticsearch is not reachable at", "Connection refused", "ES_URL")
    assert len((out.stdout + out.stderr).strip().splitlines()) == 1


def test_an_es_url_that_is_not_elasticsearch_is_one_line(tmp_path):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://example.com/feed.xml\n")
    with _html_server() as url:
        for command in (("search", "loan"), ("run", "--feeds", str(feeds))):
            out = _cli(*command, ES_URL=url, NEWSWATCH_HOME=str(tmp_path / "home"))
            _one_clear_line(out, "does not answer as Elasticsearch", "ES_URL")
            assert len((out.stdout + out.stderr).strip().splitlines()) == 1, command


def test_es_start_refuses_when_es_url_points_elsewhere(tmp_path):
    _one_clear_line(_cli("es", "start", ES_URL="http://127.0.0.1:9", NEWSWATCH_HOME=str(tmp_path)),
                    "ES_URL is set", "unset ES_URL")


def test_alerts_test_without_a_rule_asks_for_one(tmp_path):
    _one_clear_line(_cli("alerts", "test", NEWSWATCH_HOME=str(tmp_path)), "name the rule", "central-asia")
    _one_clear_line(_cli("alerts", "test", "no-such-rule", NEWSWATCH_HOME=str(tmp_path)), "unknown rule")


def test_a_header_setting_with_a_line_break_names_the_variable(tmp_path):
    line = _one_clear_line(_cli("doctor", SMTP_FROM="me@example.org\nBcc: all@example.org",
                                NEWSWATCH_HOME=str(tmp_path)), "SMTP_FROM", "line break")
    assert "Bcc" in line


def test_beams_bigquery_warning_is_not_shown():
    code = "import {}apache_beam.io.gcp.internal.clients.bigquery"
    shown = subprocess.run([sys.executable, "-c", code.format("")], capture_output=True, text=True, timeout=120)
    assert "apitools not found" in shown.stderr  # what Beam prints on its own (else this test proves nothing)
    quiet = subprocess.run([sys.executable, "-c", code.format("newswatch, ")], capture_output=True, text=True,
                           timeout=120)
    assert quiet.returncode == 0 and "apitools" not in quiet.stderr, quiet.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _html_server():
    """A loopback web server that is not Elasticsearch: every request gets an HTML page."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def _page(self):
            body = b"<html><body><h1>It works!</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = _page

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("field, value", [("name", "kz-money\n"), ("recipients", ["desk@example.org\n"])])
def test_a_rule_name_or_recipient_with_a_line_break_is_refused(tmp_path, field, value):
    import json

    rule = {"name": "kz-money", "recipients": ["desk@example.org"], "countries": ["KZ"], field: value}
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - " + json.dumps(rule) + "\n")  # JSON is YAML: "\n" in it is a line break
    line = _one_clear_line(_cli("alerts", "list", "--rules", str(path), NEWSWATCH_HOME=str(tmp_path)), "invalid")
    assert field in line


def test_every_option_of_every_command_says_what_it_does():
    import argparse

    from newswatch.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {a.dest}" for name, sub in commands.choices.items() for a in sub._actions
               if a.help is None and not isinstance(a, argparse._HelpAction)]
    assert missing == []
    assert "(default: 0)" in commands.choices["run"].format_help()  # a default of 0 is still shown
