"""Stage functions for the worker-pool tests (importable by the worker processes, like newswatch's own)."""
from __future__ import annotations

import os


def die_on_poison(element: dict) -> tuple[str, dict]:
    """A stage whose process dies (as if killed by the OOM killer) on the element marked ``poison``."""
    if element.get("poison"):
        os._exit(9)
    return "main", {**element, "done_in": os.getpid()}
