"""The per-page budget: a tag cap everywhere, CPU and memory limits in the extraction worker processes only."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from newswatch.pipelines.budget import OverBudget, PageBudget, enter_worker


def _spin(limits: PageBudget) -> str:
    with limits.limits():
        while True:
            pass


def _allocate(limits: PageBudget, mb: int) -> str:
    with limits.limits():
        block = bytearray(mb * 2 ** 20)
        return f"allocated {len(block) // 2 ** 20} MB"


def _in_worker(fn, *args):
    with ProcessPoolExecutor(1, initializer=enter_worker) as pool:
        return pool.submit(fn, *args).result(timeout=60)


def test_a_page_with_too_many_tags_is_refused_before_parsing():
    PageBudget(max_tags=10).check_size(b"<p>" * 10)
    with pytest.raises(OverBudget) as err:
        PageBudget(max_tags=10).check_size(b"<b>" * 11)
    assert err.value.kind == "tags" and "11 tags" in str(err.value) and "NEWSWATCH_PAGE_MAX_TAGS" in str(err.value)
    PageBudget(max_tags=0).check_size(b"<b>" * 100)  # 0: no cap


def test_a_worker_is_interrupted_when_a_page_uses_its_cpu_budget():
    with pytest.raises(OverBudget) as err:
        _in_worker(_spin, PageBudget(cpu_seconds=0.2))
    assert err.value.kind == "cpu" and "over the per-page budget of 0.2 s" in str(err.value)


def test_a_worker_gets_a_memory_error_past_its_memory_budget_and_recovers():
    with pytest.raises(OverBudget) as err:
        _in_worker(_allocate, PageBudget(memory_mb=64), 512)
    assert err.value.kind == "memory" and "64 MB" in str(err.value)
    assert _in_worker(_allocate, PageBudget(memory_mb=1024), 256) == "allocated 256 MB"  # within: no limit felt


def test_outside_a_worker_process_no_signal_or_process_limit_is_set():
    import resource
    import signal

    before = resource.getrlimit(resource.RLIMIT_AS), signal.getsignal(signal.SIGPROF)
    with PageBudget(cpu_seconds=0.01, memory_mb=1).limits():
        sum(range(2_000_000))  # more than 0.01 s of CPU, in the test runner's own process
        assert (resource.getrlimit(resource.RLIMIT_AS), signal.getsignal(signal.SIGPROF)) == before


def test_the_development_pages_are_well_within_the_default_tag_cap(fixtures_dir):
    pages = sorted(fixtures_dir.glob("**/articles/*.html"))
    assert len(pages) > 40
    most = max(p.read_bytes().count(b"<") for p in pages)
    assert most * 5 < PageBudget().max_tags, most
