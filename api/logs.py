"""Logging: one JSON object per line (LOG_FORMAT=json, the default) or plain text (LOG_FORMAT=text), every line with
the id of the request that wrote it (`-` outside a request) and the process id (which worker, under
`crmctl serve --workers N`). The access line of each request (logger `api.access`) adds method, route, path, status
and duration_ms."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) in (None, "-"):  # an id given with extra= stands
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
            "message": record.getMessage(),
            "pid": record.process,  # which worker process (crmctl serve --workers N)
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """The root handler for the process: JSON or text, with request ids; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def configure_once(level: str = "INFO", fmt: str = "json") -> None:
    """configure() unless the process already has a handler: a uvicorn worker process (--workers N) starts a fresh
    interpreter that never ran crmctl's configure, while a test runner's or an embedding program's stays theirs."""
    if not logging.getLogger().handlers:
        configure(level, fmt)
