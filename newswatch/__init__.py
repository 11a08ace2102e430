"""newswatch: streaming news monitoring for money and influence in Central Asia."""
import logging as _logging

__version__ = "0.1.0"


class _NoBigQueryWarning(_logging.Filter):
    """Beam warns at import that BigQuery's client libraries are missing; newswatch never uses BigQuery."""

    def filter(self, record: _logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


_logging.getLogger().addFilter(_NoBigQueryWarning())
