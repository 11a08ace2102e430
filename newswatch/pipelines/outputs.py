"""What every stage emits: its main output, or a dead letter (an error record) on the ``DEAD`` tagged output.

Workers import this module (through :mod:`.extract` and :mod:`.enrich`), so it must not import Beam at load.
"""
from __future__ import annotations

from ..schemas.records import error_record

MAIN = "main"
DEAD = "dead"
NS = "newswatch"  # the namespace of the stages' Beam counters


def dead_letter(stage: str, element: dict, reason: str, kind: str | None = None, status: int | None = None) -> dict:
    return error_record(stage, reason, url=element.get("link") or element.get("url"),
                        feed=(element.get("feeds") or [None])[0], story_id=element.get("id"),
                        error_type=kind, http_status=status, run_id=element.get("run_id"))


def windowed(out):
    """An output of ``finish_bundle``, which has no element to take its window from: the global window."""
    import apache_beam as beam
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    if isinstance(out, beam.pvalue.TaggedOutput):
        return beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, 0, [GlobalWindow()]))
    return WindowedValue(out, 0, [GlobalWindow()])
