"""Logs an operator can search: one JSON object a line, with the trace and span ids of the
current OpenTelemetry span (the same ids the traces carry), and one access line per request.

An access line holds the method, the route (its template, `/applications/{application_id}`,
never the raw path, where an id could stand), the status, the duration and the trace id; never
headers (tokens), query strings or bodies (resident ids, names).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

ACCESS = logging.getLogger("lingshui.access")
# The attributes every LogRecord has: anything else was passed in `extra=` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# An unmatched path is logged with long digit runs (a resident id, an account) masked.
_DIGITS = re.compile(r"\d{6,}[\dXx]?")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "service": self.service,
            "logger": record.name, "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """The process's one log handler, on stderr; uvicorn's loggers go through it too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours is lingshui.access
    quiet_chatty_loggers()


def quiet_chatty_loggers() -> None:
    # httpx logs every URL it fetches, query string included, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def access(method: str, scope: dict[str, Any], status: int, duration_s: float) -> None:
    route = scope.get("route")
    path = getattr(route, "path", None) or _DIGITS.sub("…", scope.get("path", ""))
    ACCESS.info("%s %s %d", method, path, status, extra={
        "http_method": method, "http_route": path, "http_status": status,
        "duration_ms": round(duration_s * 1000, 1)})
