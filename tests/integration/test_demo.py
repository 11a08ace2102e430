"""The README's first command runs the flow over the bundled sample corpus: check what a newcomer sees."""
from __future__ import annotations

import email
import os
import subprocess
from email import policy
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.heavy]


def test_demo_over_bundled_sample(settings, tmp_path, es_client):
    env = dict(os.environ, ES_URL=settings.es_url, NEWSWATCH_INDEX_PREFIX=settings.index_prefix,
               NEWSWATCH_HOME=str(settings.home), PREFECT_HOME=str(tmp_path / "ph"), COLUMNS="160")
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "demo"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "completed_with_errors" in text  # the sample has a dead link on purpose
    assert "removed-story.html" in text and "HTTP 404" in text
    assert "example stories" in text and "World Bank approves $250 million" in text
    # the demo's alert goes to a local mail catcher and is saved as .eml
    assert "alert mail '[newswatch] central-asia-financing:" in text
    eml = list((settings.home / "outbox").glob("*.eml"))
    assert len(eml) == 1 and b"Kambarata-1" in eml[0].read_bytes()
    es_client.indices.refresh(index=f"{settings.index_prefix}-stories")
    assert es_client.count(index=f"{settings.index_prefix}-stories")["count"] == 7  # one of them in Russian
    ru = es_client.search(index=f"{settings.index_prefix}-stories", query={"term": {"lang": "ru"}})["hits"]["hits"]
    assert len(ru) == 1 and "KG" in ru[0]["_source"]["countries"] and "exim-china" in ru[0]["_source"]["orgs"]
    assert any(f["kind"] == "loan" and f["recipient"] == "KG" and f["lender"] == "exim-china" and f["usd"] == 1.8e8
               for f in ru[0]["_source"]["finance"])
    digest = email.message_from_bytes(eml[0].read_bytes(), policy=policy.default)
    body = digest.get_body(preferencelist=("plain",)).get_content()
    assert "Эксимбанк Китая выделит Кыргызстану $180 млн" in body  # the Russian story, under its own title
    hit = es_client.search(index=f"{settings.index_prefix}-stories",
                           query={"match_phrase": {"title": "Kambarata-1 hydropower"}})["hits"]["hits"][0]["_source"]
    assert "KG" in hit["countries"] and any(f["kind"] == "loan" and f["recipient"] == "KG" for f in hit["finance"])
    assert "cookie" not in hit["text"].lower() and "Most read" not in hit["text"]
