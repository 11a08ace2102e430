"""The gold file is the contract for extraction quality: read it, never copy it."""
from __future__ import annotations

import json
import subprocess
import sys

from newswatch.evaluation import evaluate


def test_extraction_meets_the_gold_contract(fixtures_dir, gold):
    rep = evaluate(fixtures_dir / "gold.json", fixtures_dir / "articles")
    m = rep.metrics()
    assert m["country_precision"] >= 0.95 and m["country_recall"] >= 0.95, rep.lines
    # every listed finance mention is found with the right currency and amount
    assert rep.finance.fn == 0, [line for line in rep.lines if "finance" in line]
    assert rep.finance.tp == sum(len(a["finance"]) for a in gold["articles"].values())
    # no not_amounts and no not_countries
    assert rep.violations == []
    assert m["kind_accuracy"] >= 0.9 and m["recipient_accuracy"] >= 0.8
    assert m["org_recall"] >= 0.9 and m["person_recall"] >= 0.9


def test_eval_command_exit_codes(fixtures_dir, tmp_path):
    cmd = [sys.executable, "-m", "newswatch.cli", "eval", str(fixtures_dir / "gold.json"), "--pages",
           str(fixtures_dir / "articles"), "--min-country-precision", "0.95", "--min-country-recall", "0.95"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "countries" in ok.stdout and "thresholds: all met" in ok.stdout
    # a stricter gold (one more country nobody mentions) must fail the threshold and name the miss
    gold = json.loads((fixtures_dir / "gold.json").read_text())
    first = next(iter(gold["articles"]))
    gold["articles"][first]["countries"].append("BR")
    stricter = tmp_path / "gold.json"
    stricter.write_text(json.dumps(gold))
    bad = subprocess.run([*cmd[:4], str(stricter), *cmd[5:], "--min-country-recall", "1.0"], capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1 and "MISS country BR" in bad.stdout and "FAILED" in bad.stdout


def test_peer_currency_suite_news_like_cases(fixtures_dir):
    from newswatch.evaluation import peer_currency_score

    score = peer_currency_score(fixtures_dir / "external" / "recognizers-currency" / "CurrencyModel.json")
    assert score["tp"] + score["fn"] >= 50  # the news-like cases were read
    assert score["recall"] >= 0.90 and score["precision"] >= 0.95, score
