"""natasha's models and py3langid multiply small matrices with numpy, whose OpenBLAS starts a thread per core for
each: in a process per core (the extraction workers) the threads only fight each other (Russian enrichment 34 ms
mean, p99 320 ms, against 17 and 28 with one thread). Limited to one thread once, where they are first used
(numpy is imported long before, so the environment variable would come too late)."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def one_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
