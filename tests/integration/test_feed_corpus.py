"""Run the feed parser over feedparser's own corpus of real-world and malformed feeds.

The corpus ships in feedparser's source distribution; it is downloaded from the package index at test time
(cached under $NEWSWATCH_HOME/downloads), never committed.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import time
from collections import Counter

import pytest

from newswatch.connectors.feeds import parse_feed, read_fast
from newswatch.settings import Settings

SUFFIXES = {".xml", ".rdf", ".atom", ".rss", ".feed"}


@pytest.fixture(scope="session")
def feedparser_corpus():
    import feedparser

    downloads = Settings.from_env().home / "downloads" / "feedparser-sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    archives = list(downloads.glob(f"feedparser-{feedparser.__version__}.tar.gz"))
    if not archives:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q",
                        "-d", str(downloads), f"feedparser=={feedparser.__version__}"], check=True, timeout=300)
        archives = list(downloads.glob(f"feedparser-{feedparser.__version__}.tar.gz"))
    files = []
    with tarfile.open(archives[0]) as tar:
        for member in tar.getmembers():
            if member.isfile() and "/tests/" in member.name and any(member.name.endswith(s) for s in SUFFIXES):
                files.append((member.name, tar.extractfile(member).read()))
    return files


def test_feedparser_corpus_never_crashes_the_parser(feedparser_corpus, fault_report):
    assert len(feedparser_corpus) > 1000, "the corpus was found"
    outcome: Counter[str] = Counter()
    crashes = []
    started = time.monotonic()
    for name, body in feedparser_corpus:
        try:
            result = parse_feed(body, f"http://corpus.invalid/{name}")
        except Exception as exc:  # a crash here would stop a real run: this must stay at zero
            crashes.append((name, repr(exc)))
            continue
        outcome[result.status if result.status != "error" else f"rejected:{result.error_kind}"] += 1
    elapsed = time.monotonic() - started
    assert not crashes, crashes[:5]
    parsed = outcome["ok"]
    rejected = sum(v for k, v in outcome.items() if k.startswith("rejected"))
    assert parsed + rejected == len(feedparser_corpus)
    assert parsed > len(feedparser_corpus) * 0.6, outcome
    fault_report(f"feedparser corpus ({len(feedparser_corpus)} feeds)", injected=len(feedparser_corpus),
                 survived=len(feedparser_corpus) - len(crashes), lost=0,
                 note=f"{parsed} parsed, {rejected} rejected ({dict((k, v) for k, v in outcome.items() if k != 'ok')}), "
                      f"{elapsed:.1f}s")


@pytest.mark.parametrize("served", [False, True], ids=["bytes", "served"])
def test_the_fast_parser_reads_every_corpus_feed_it_takes_as_feedparser_does(feedparser_corpus, served):
    """fastfeedparser reads only well-formed UTF-8 feeds whose entries all carry their own link, and gives up on
    what it would read differently: on each feed of the corpus, the entries, title and errors are feedparser's.
    ``served``: with the headers a poll passes (its type, and its URL that relative links resolve against)."""
    taken, differ = [], []
    for name, body in feedparser_corpus:
        url = f"http://corpus.invalid/{name}"
        headers = {"content-type": "application/xml", "content-location": url} if served else None
        if parse_feed(body, url, headers) != parse_feed(body, url, headers, fast=False):
            differ.append(name)
        if read_fast(body, headers):
            taken.append(name)
    assert not differ, differ[:10]
    # the corpus is mostly one-feature test documents (no title, no link, odd encodings): few are plain feeds
    assert len(taken) >= 30, taken
