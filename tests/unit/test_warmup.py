"""The one seam for start-up speed work: ``warm_up`` freezes the start-up heap (checked in a fresh interpreter,
where nothing is frozen yet) and starts the extraction workers."""
from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, sys
from newswatch.settings import Settings
from newswatch.pipelines.warmup import warm_up
from newswatch.pipelines import cpu_pool
assert gc.get_freeze_count() == 0
warm_up(Settings.from_env().with_(cpu_workers=1), [])
assert gc.get_freeze_count() > 0, "heap not frozen"
assert 1 in cpu_pool._pools or 1 in cpu_pool._starting, "no worker pool started"
print("ok")
"""


def test_warm_up_freezes_the_heap_and_starts_the_workers():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
