"""The spool: documents that could not be written to Elasticsearch, kept on disk and written by the next run."""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from pathlib import Path

from ..settings import Settings

log = logging.getLogger(__name__)
SPOOLED = ("stories", "errors")  # what the pipeline spools when Elasticsearch is down


class Spool:
    """Append-only JSONL files for documents that could not be written to Elasticsearch."""

    _lock = threading.Lock()

    def __init__(self, settings: Settings, kind: str):
        self.dir = Path(settings.home) / "spool" / settings.index_prefix
        self.kind = kind

    def write(self, docs: list[dict]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        with self._lock, open(path, "w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def files(self) -> list[Path]:
        return sorted(self.dir.glob(f"{self.kind}-*.jsonl")) if self.dir.is_dir() else []


def pending(settings: Settings) -> bool:
    return any(Spool(settings, kind).files() for kind in SPOOLED)


def replay(settings: Settings, es, logger: logging.Logger | logging.LoggerAdapter = log) -> list[str]:
    """Write what earlier runs spooled; a file whose documents are all accepted is removed. Returns story ids."""
    from ..connectors.es import bulk_write

    replayed: list[str] = []
    for kind in SPOOLED:
        for path in Spool(settings, kind).files():
            docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            ok_ids, failures = bulk_write(es, settings.index(kind), docs)
            if failures:
                logger.error("spool %s: %d documents still rejected: %s", path, len(failures), failures[:3])
                continue
            path.unlink()
            if kind == "stories":
                replayed.extend(ok_ids)
    if replayed:
        es.indices.refresh(index=settings.index("stories"))
    return replayed
