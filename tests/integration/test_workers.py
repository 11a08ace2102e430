"""The extraction worker processes: same documents as extraction in the Beam worker itself; a worker that dies
loses no page but the one that killed it."""
from __future__ import annotations

import os
import uuid

import apache_beam as beam
import pytest

from newswatch.pipelines import cpu_pool
from newswatch.pipelines.concurrent import CpuStage
from newswatch.pipelines.runner import DEFAULT_RUNNER, cpu_workers_for, runner_name, with_default_runner
from newswatch.pipelines.outputs import DEAD

pytestmark = pytest.mark.integration


def test_workers_by_default_only_where_the_beam_worker_is_this_process(es_settings):
    cores = cpu_pool.available_cores()
    auto = es_settings.with_(cpu_workers=None)
    expected = cores if cores > 1 else 0
    assert cpu_workers_for(auto, []) == expected
    assert cpu_workers_for(auto, ["--runner=FnApiRunner"]) == expected
    assert cpu_workers_for(auto, ["--runner", "DirectRunner"]) == expected
    assert cpu_workers_for(auto, ["--runner=FnApiRunner", "--direct_running_mode=multi_processing"]) == 0
    assert cpu_workers_for(auto, ["--runner=FlinkRunner", "--environment_type=LOOPBACK"]) == expected
    assert cpu_workers_for(auto, ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]) == 0
    assert cpu_workers_for(auto, ["--runner=FlinkRunner", "--environment_type=PROCESS"]) == 0
    assert cpu_workers_for(es_settings.with_(cpu_workers=3), ["--direct_running_mode=multi_processing"]) == 3


def test_the_default_runner_is_named_where_no_runner_is():
    assert DEFAULT_RUNNER == "FnApiRunner"
    assert runner_name([]) == runner_name(None) == "FnApiRunner"
    assert runner_name(["--runner", "FlinkRunner", "--parallelism=2"]) == "FlinkRunner"
    assert runner_name(["--runner=apache_beam.runners.direct.direct_runner.DirectRunner"]) == "DirectRunner"
    assert with_default_runner(["--direct_num_workers=2"]) == ["--direct_num_workers=2", "--runner=FnApiRunner"]
    assert with_default_runner(["--runner=DirectRunner"]) == ["--runner=DirectRunner"]


def test_worker_processes_index_the_same_documents_as_inline_extraction(es_settings, es_client, feeds_file,
                                                                         prefect_harness, tmp_path):
    from test_flink import _docs

    from newswatch.flows.ingest import ingest_flow

    path = feeds_file("central-asia.rss.xml", "asia-world.atom.xml")
    results = {}
    for workers in (0, 2):
        s = es_settings.with_(index_prefix=f"nwcpu-{uuid.uuid4().hex[:6]}", allow_loopback=True,
                              home=tmp_path / str(workers), fetch_timeout=5.0, cpu_workers=workers)
        summary = ingest_flow(path, overrides=s.public())
        assert summary["runner"] == "FnApiRunner"  # no runner named: the default
        results[workers] = (summary["counts"], _docs(es_client, s))
        es_client.indices.delete(index=",".join(es_client.indices.get(index=f"{s.index_prefix}-*")))
        es_client.indices.delete_index_template(name=f"{s.index_prefix}-stories")
    (inline_counts, inline_docs), (pool_counts, pool_docs) = results[0], results[2]
    differ = {k: {f: (v, pool_docs.get(k, {}).get(f)) for f, v in d.items() if pool_docs.get(k, {}).get(f) != v}
              for k, d in inline_docs.items() if pool_docs.get(k) != d}
    assert len(inline_docs) == 7 and not differ, differ
    assert pool_counts == inline_counts
    assert pool_counts["extracted"] == pool_counts["indexed"] == 7 and pool_counts["failed"] == 2


def test_a_dying_worker_loses_only_the_page_that_kills_it(es_settings, fault_report):
    from apache_beam.testing.util import assert_that, equal_to

    from _worker_fns import die_on_poison

    elements = [{"id": f"p{i}", "url": f"http://example.com/{i}", "poison": i == 7} for i in range(40)]
    settings = es_settings.with_(cpu_workers=2)
    with beam.Pipeline() as p:
        out = (p | beam.Create(elements, reshuffle=False)
               | beam.ParDo(CpuStage(settings, die_on_poison, (), ("extract",))).with_outputs(DEAD, main="ok"))
        assert_that(out.ok | "ok ids" >> beam.Map(lambda d: d["id"]),
                    equal_to([e["id"] for e in elements if not e["poison"]]), label="every other page")
        assert_that(out[DEAD] | "dead" >> beam.Map(lambda d: (d["story_id"], d["stage"], d["error_type"])),
                    equal_to([("p7", "extract", "worker_died")]), label="the poison page, recorded")
    assert cpu_pool.get_pool(2).submit(os.getpid).result() != os.getpid()  # the pool works again afterwards
    fault_report("extraction worker killed mid-run", injected=1, survived=39, lost=0,
                 note="in-flight pages re-run alone; the killer page is a dead letter")


def test_feed_parsing_runs_here_one_at_a_time_while_the_pool_starts_then_in_the_pool():
    import threading
    import time

    assert 1 not in cpu_pool._pools  # a pool size no other test uses: this one starts from nothing
    me, first, release = os.getpid(), [], threading.Event()

    def held_here() -> int:  # runs in this process (a closure could not be sent to a worker)
        release.wait(60)
        return os.getpid()

    try:
        cpu_pool.prewarm(1)  # the forkserver imports trafilatura and warms the extraction code: ~1 s
        # the first call finds the pool still starting and runs here, holding this process's turn until released
        thread = threading.Thread(target=lambda: first.append(cpu_pool.call(1, held_here, wait=60)))
        thread.start()
        while not cpu_pool._inline.locked() and thread.is_alive():
            time.sleep(0.01)
        # the second call finds this process busy: it waits for the pool, not for its turn here
        assert cpu_pool.call(1, os.getpid, wait=60) != me
        assert first == [] and thread.is_alive()
        release.set()
        thread.join()
        assert first == [me]
        assert cpu_pool.call(1, os.getpid, wait=60) != me  # the pool is up: every call goes there
    finally:
        release.set()
        pool = cpu_pool._pools.pop(1, None)
        cpu_pool._warm.discard(1)
        cpu_pool._starting.pop(1, None)
        if pool is not None:
            pool.shutdown()
    assert cpu_pool.call(0, os.getpid) == me  # no workers: inline
    assert cpu_pool.call(1, os.getpid) == me  # never started: inline, no waiting
