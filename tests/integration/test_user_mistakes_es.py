"""Asking a real Elasticsearch for what is not there yet is one clear line."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_search_before_anything_was_ingested(settings):
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix)
    env.pop("NEWSWATCH_DEBUG", None)
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "search", "loan"], env=env, capture_output=True,
                         text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in text
    assert "no such index" in text and "newswatch run" in text and len(text.strip().splitlines()) == 1
