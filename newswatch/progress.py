"""Live progress of a run: the stages count what they finish in this process; a reporter shows the counts while
the pipeline runs — a ``rich`` progress display on a terminal, else a log line every few seconds (which Prefect
shows in the flow run's logs).

Counts are only seen where the stages run in the flow's process (the DirectRunner's default mode, with or
without extraction worker processes); with runners that run them elsewhere the log lines say so by staying at 0
until the end summary.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

STAGES = ("fetched", "extracted", "enriched", "indexed", "failed")
_lock = threading.Lock()
_counts: Counter[str] = Counter()


def bump(name: str, n: int = 1) -> None:
    with _lock:
        _counts[name] += n


def snapshot() -> dict[str, int]:
    with _lock:
        return {k: _counts[k] for k in STAGES}


def reset() -> None:
    with _lock:
        _counts.clear()


def line(counts: dict[str, int], total: int, elapsed: float) -> str:
    """One progress line: 'pages 120/1000 fetched, 100 extracted, 90 indexed, 3 failed; 12.0 pages/s, ETA 73 s'."""
    done = counts.get("indexed", 0) + counts.get("failed", 0)
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = f"ETA {max(0.0, (total - done) / rate):.0f} s" if rate > 0 and total else "ETA -"
    return (f"pages {counts.get('fetched', 0)}/{total} fetched, {counts.get('extracted', 0)} extracted, "
            f"{counts.get('indexed', 0)} indexed, {counts.get('failed', 0)} failed; {rate:.1f} pages/s, {eta}")


def mode() -> str:
    """``bar`` (a live display), ``log`` (periodic lines) or ``off``: $NEWSWATCH_PROGRESS, else ``bar`` on a
    terminal and ``log`` elsewhere."""
    wanted = os.environ.get("NEWSWATCH_PROGRESS", "auto").lower()
    if wanted in ("bar", "log", "off"):
        return wanted
    return "bar" if sys.stderr.isatty() else "log"


class Reporter:
    """Shows the counts of :func:`bump` while a run's pipeline works on ``total`` pages (a context manager)."""

    def __init__(self, total: int, logger=None, every: float | None = None, how: str | None = None):
        self.total, self.logger = total, logger
        self.every = every if every is not None else float(os.environ.get("NEWSWATCH_PROGRESS_EVERY", "10"))
        self.how = how or mode()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = None

    def __enter__(self) -> "Reporter":
        reset()
        self.started = time.monotonic()
        if self.how == "bar":
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[detail]}"),
                                      TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
                                      console=_console())
            self._progress.start()
            self._task = self._progress.add_task("pages", total=self.total, detail="")
        if self.how != "off":
            self._thread = threading.Thread(target=self._run, name="newswatch-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._progress is not None:
            self._progress.stop()

    def _run(self) -> None:
        tick = 0.2 if self.how == "bar" else self.every
        while not self._stop.wait(tick):
            counts, elapsed = snapshot(), time.monotonic() - self.started
            if self._progress is not None:
                done = counts["indexed"] + counts["failed"]
                self._progress.update(self._task, completed=done, detail=(
                    f"fetched {counts['fetched']} · extracted {counts['extracted']} · indexed {counts['indexed']} "
                    f"· failed {counts['failed']} · {done / elapsed if elapsed else 0:.1f}/s"))
            elif self.logger is not None:
                self.logger.info("progress: %s", line(counts, self.total, elapsed))


def _console():
    from rich.console import Console

    return Console(stderr=True)
