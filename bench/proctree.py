"""CPU time and peak memory of process trees, read from /proc (Linux), for the benchmarks.

CPU time: ``utime + stime`` of every live process plus ``cutime + cstime`` (the time of its children that have
exited and been waited for), so each process's time is counted exactly once, whether it is still running or not.
Peak memory: ``VmHWM`` (the resident-set high-water mark) of each live process.
"""
from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()  # fields from 3 (state) on; the name may hold spaces


def _all() -> dict[int, list[str]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                out[int(name)] = st
    return out


def tree(root: int, exclude: set[int] = frozenset()) -> list[int]:
    """``root`` and its live descendants, leaving out the subtrees rooted at ``exclude``."""
    procs = _all()
    children: dict[int, list[int]] = {}
    for pid, st in procs.items():
        children.setdefault(int(st[1]), []).append(pid)  # field 4: ppid
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in exclude or (pid != root and pid not in procs):
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def group(pgid: int) -> list[int]:
    """Live processes of the process group ``pgid`` (e.g. the local Elasticsearch node and its launcher)."""
    return [pid for pid, st in _all().items() if int(st[2]) == pgid]  # field 5: pgrp


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            total += sum(int(x) for x in st[11:15])  # fields 14-17: utime stime cutime cstime
    return total / TICK


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        out[pid] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return out
