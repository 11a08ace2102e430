"""A per-page budget for extraction: CPU time, memory and the size of the parsed tree.

In the extraction worker processes a page that uses more CPU than ``cpu_seconds`` is interrupted (a profiling
timer, the process's own CPU time) and one that asks for more than ``memory_mb`` beyond what the process already
holds gets a ``MemoryError`` (an address-space limit for the duration of the call). Where there are no worker
processes (``NEWSWATCH_CPU_WORKERS=0``, runners with worker processes of their own) signals and process limits
would hit the whole Beam worker, so the bound is a cap on the page's tags, counted before anything is parsed:
extraction time and memory grow with the tree. A page over budget becomes an ``extract`` dead letter saying
which budget and by how much.
"""
from __future__ import annotations

import contextlib
import resource
import signal
import threading
import time
from dataclasses import dataclass

_in_worker = False  # set in the extraction worker processes (cpu_pool's initializer)


def enter_worker() -> None:
    """Mark this process as an extraction worker: its main thread may take the CPU and memory limits."""
    global _in_worker
    _in_worker = True


class OverBudget(Exception):
    """A page used more of a budget than allowed; ``kind`` is cpu, memory or tags."""

    def __init__(self, kind: str, message: str):
        super().__init__(kind, message)  # both in args: the exception survives pickling out of a worker
        self.kind, self.message = kind, message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class PageBudget:
    cpu_seconds: float = 10.0  # 0: no limit
    memory_mb: int = 1024
    max_tags: int = 60_000

    @classmethod
    def from_settings(cls, settings) -> "PageBudget":
        return cls(settings.page_cpu_seconds, settings.page_memory_mb, settings.page_max_tags)

    def check_size(self, html) -> None:
        """Raise OverBudget if the page holds more tags than ``max_tags`` (a cheap count of ``<``)."""
        if self.max_tags and isinstance(html, (bytes, str)):
            tags = html.count(b"<" if isinstance(html, bytes) else "<")
            if tags > self.max_tags:
                raise OverBudget("tags", f"page has {tags:,} tags, over the per-page budget of {self.max_tags:,} "
                                         f"(NEWSWATCH_PAGE_MAX_TAGS)")

    @contextlib.contextmanager
    def limits(self):
        """CPU and memory limits for the block, in a worker process's main thread (elsewhere: none)."""
        if not _in_worker or threading.current_thread() is not threading.main_thread():
            yield
            return
        with self._cpu(), self._memory():
            yield

    @contextlib.contextmanager
    def _cpu(self):
        if self.cpu_seconds <= 0:
            yield
            return
        start, done = time.process_time(), []

        def over(signum, frame):
            if done:  # fired as the block ended: nothing left to interrupt
                return
            raise OverBudget("cpu", f"extraction used {time.process_time() - start:.1f} s of CPU, over the per-page "
                                    f"budget of {self.cpu_seconds:g} s (NEWSWATCH_PAGE_CPU_SECONDS)")

        previous = signal.signal(signal.SIGPROF, over)
        signal.setitimer(signal.ITIMER_PROF, self.cpu_seconds)
        try:
            yield
        finally:
            done.append(True)
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)

    @contextlib.contextmanager
    def _memory(self):
        if self.memory_mb <= 0:
            yield
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        try:
            limit = _address_space() + self.memory_mb * 2 ** 20
        except OSError:  # no /proc: no memory limit rather than a wrong one
            yield
            return
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        try:
            yield
        except MemoryError:
            raise OverBudget("memory", f"extraction needed more than the per-page memory budget of "
                                       f"{self.memory_mb:,} MB (NEWSWATCH_PAGE_MEMORY_MB)") from None
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    """This process's address space now, in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()
