"""Imported once by the extraction workers' forkserver: every worker forked from it starts warm."""
from ..extraction import warm
from . import enrich  # noqa: F401  (the functions the workers run)

__all__ = ["enrich"]

warm()
