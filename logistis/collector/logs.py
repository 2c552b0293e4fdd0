"""Structured logs: one JSON object per line in the cluster, readable lines on a terminal."""

from __future__ import annotations

import faulthandler
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed with `extra=` and is structured data.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname:<7} {record.getMessage()}" + (
            f"  {extra}" if extra else ""
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(log_format: str, level: str, **always: Any) -> None:
    """`always`: fields every line of this process carries (a webhook worker's number)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    if always:
        handler.addFilter(_Carrying(always))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # A process killed by a signal no handler can catch (SIGBUS from a mapped file made
    # unwritable, SIGSEGV) still says where each thread was, on stderr with the log.
    faulthandler.enable(sys.stderr)
    # aiohttp's access log would add a line per admission request; metrics cover that.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # At debug level aiosqlite logs every statement with its parameters: objects included.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # While PostgreSQL is away, asyncpg's pool logs every failed reconnect with a traceback,
    # three a retry: the store's own warning, its metrics and /readyz already say so, once.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)


class _Carrying(logging.Filter):
    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__()
        self._fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self._fields.items():
            setattr(record, name, value)
        return True
