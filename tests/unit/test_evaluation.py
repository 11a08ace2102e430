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


DEV_TARGETS = {"finance_recall": 0.95, "finance_precision": 0.95, "currency_accuracy": 0.99, "kind_accuracy": 0.85,
               "recipient_accuracy": 0.85, "lender_accuracy": 0.80, "country_recall": 0.98, "country_precision": 0.92,
               "alert_accuracy": 0.95}


def test_dev_set_meets_the_finance_targets(fixtures_dir):
    """The 32 real English pages (dev set): the issue's targets (country precision at what the rules reach)."""
    rep = evaluate(fixtures_dir / "dev" / "gold.json")
    m = rep.metrics()
    assert {k: round(m[k], 3) for k in DEV_TARGETS if m[k] < DEV_TARGETS[k]} == {}, rep.lines
    assert len(rep.violations) <= 2, rep.violations


def test_eval_command_adds_up_several_gold_files_as_json(fixtures_dir):
    cmd = [sys.executable, "-m", "newswatch.cli", "eval", str(fixtures_dir / "gold.json"),
           str(fixtures_dir / "dev" / "gold.json"), "--json", "--max-violations", "2",
           *[a for k, v in DEV_TARGETS.items() for a in (f"--min-{k.replace('_', '-')}", str(v))]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert len(report["files"]) == 2 and report["files"][str(fixtures_dir / "gold.json")]["finance_recall"] == 1.0
    assert report["all"]["lender_accuracy"] >= 0.8
    bad = subprocess.run([*cmd[:6], "--min-kind-accuracy", "0.999"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "kind_accuracy" in bad.stdout
