"""How a run is carried out: which Beam runner, how many extraction processes, and the entries staged as files."""
from __future__ import annotations

import json
import logging
import os
import uuid

from apache_beam.options.pipeline_options import PipelineOptions

from ..settings import Settings
from . import cpu_pool

log = logging.getLogger(__name__)

ENTRIES_PER_FILE = 500


def stage_entries(entries: list[dict], settings: Settings) -> list[str]:
    """Write the run's entries as JSON-lines files (``ENTRIES_PER_FILE`` each) under the staging directory.

    Beam would otherwise carry them inside the pipeline definition: ``Create`` pickles and bz2-compresses its
    elements every time the pipeline is translated (twice per run), about 0.2 s per 1,000 entries of the flow
    process, before the first page is fetched. Files also let the runner's workers read them in parallel.
    """
    from apache_beam.io.filesystems import FileSystems

    from ..connectors.polite import interleave_by_host

    entries = interleave_by_host(entries)  # so that fetching spreads over the hosts from the start
    base = FileSystems.join(settings.effective_staging_dir, f"entries-{uuid.uuid4().hex[:12]}")
    if "://" not in base:
        os.makedirs(os.path.dirname(base), exist_ok=True)
    paths = []
    try:
        for k in range(0, len(entries), ENTRIES_PER_FILE):
            paths.append(f"{base}-{k // ENTRIES_PER_FILE:05d}.jsonl")
            with FileSystems.create(paths[-1]) as fh:
                fh.write("".join(json.dumps(e) + "\n" for e in entries[k:k + ENTRIES_PER_FILE]).encode("utf-8"))
    except BaseException:  # a full disk: leave no half-written files behind to fill it further
        unstage(paths)
        raise
    return paths


def unstage(paths: list[str]) -> None:
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.delete(paths)
    except Exception as exc:  # the entries are re-derived from the feeds by the next run anyway
        log.warning("could not remove staged entry files %s: %s", paths[:1], exc)


def read_entries(path: str):
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as fh:
        for line in fh.read().decode("utf-8").splitlines():
            if line:
                yield json.loads(line)



# The runner when none is named: Beam's in-process portable runner. It is what ``DirectRunner`` runs a batch
# pipeline like this one on, but ``DirectRunner`` first tries Beam's Prism runner, which it downloads from GitHub
# at run time when it is not installed (here: a failed download on every run), and first walks the graph twice to
# see which runner supports it. ``--runner=DirectRunner`` still does that.
DEFAULT_RUNNER = "FnApiRunner"
IN_PROCESS_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "FnApiRunner")  # run the Beam worker in this process


def runner_name(beam_args: list[str] | None) -> str:
    """The runner ``beam_args`` name (its class name), or :data:`DEFAULT_RUNNER`."""
    from apache_beam.options.pipeline_options import StandardOptions

    runner = PipelineOptions(beam_args or []).view_as(StandardOptions).runner or DEFAULT_RUNNER
    return (runner if isinstance(runner, str) else type(runner).__name__).rsplit(".", 1)[-1]


def with_default_runner(beam_args: list[str]) -> list[str]:
    from apache_beam.options.pipeline_options import StandardOptions

    if PipelineOptions(beam_args).view_as(StandardOptions).runner:
        return beam_args
    return [*beam_args, f"--runner={DEFAULT_RUNNER}"]


def cpu_workers_for(settings: Settings, beam_args: list[str] | None) -> int:
    """Processes for extract/enrich: ``settings.cpu_workers`` if set; else (auto) one per core when the Beam
    worker runs in this process (the default runner or DirectRunner, in memory or multi-threaded; FlinkRunner's
    LOOPBACK harness), and none when the runner already starts a worker process per core (``multi_processing``
    running mode, PROCESS or DOCKER harnesses, Dataflow)."""
    if settings.cpu_workers is not None:
        return max(0, settings.cpu_workers)
    from apache_beam.options.pipeline_options import DirectOptions, PortableOptions

    options = PipelineOptions(beam_args or [])
    if runner_name(beam_args) in IN_PROCESS_RUNNERS:
        in_process = options.view_as(DirectOptions).direct_running_mode != "multi_processing"
    else:
        in_process = (options.view_as(PortableOptions).environment_type or "").upper() == "LOOPBACK"
    import multiprocessing

    cores = cpu_pool.available_cores()
    usable = cores > 1 and "forkserver" in multiprocessing.get_all_start_methods()  # not on Windows
    return cores if in_process and usable else 0
