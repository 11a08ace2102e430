"""The progress counts and their line, without a run."""
from __future__ import annotations

import logging
import threading
import time

from newswatch import progress


def test_line_gives_counts_rate_and_eta():
    text = progress.line({"fetched": 60, "extracted": 50, "indexed": 40, "failed": 10}, 100, 10.0)
    assert text == "pages 60/100 fetched, 50 extracted, 40 indexed, 10 failed; 5.0 pages/s, ETA 10 s"
    assert progress.line({}, 0, 0.0).endswith("0.0 pages/s, ETA -")


def test_reporter_logs_periodically_what_threads_counted(caplog):
    log = logging.getLogger("test-progress")
    with caplog.at_level(logging.INFO, logger="test-progress"):
        with progress.Reporter(20, log, every=0.05, how="log"):
            workers = [threading.Thread(target=lambda: [progress.bump("fetched") for _ in range(5)]) for _ in range(4)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            time.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert len(lines) >= 2 and "pages 20/20 fetched" in lines[-1]
