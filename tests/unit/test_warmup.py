"""The one seam for start-up speed work: ``warm_up`` freezes the start-up heap and imports the runner's modules in
the background (checked in a fresh interpreter, where nothing is imported or frozen yet)."""
from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, sys
from newswatch.settings import Settings
from newswatch.pipelines.warmup import warm_up
runner = "apache_beam.runners.portability.fn_api_runner.fn_runner"
assert runner not in sys.modules and gc.get_freeze_count() == 0
thread = warm_up(Settings.from_env().with_(cpu_workers=0), [])
thread.join(120)
assert runner in sys.modules, "runner modules not imported"
assert gc.get_freeze_count() > 0, "heap not frozen"
print("ok")
"""


def test_warm_up_freezes_the_heap_and_imports_the_runner_in_the_background():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
