"""Logging set-up: human-readable lines by default, one JSON object per line on request.

Records carry fixed context keys (feed, url, item, rule, recipient, ...) passed as `extra`;
both formats show them, so a log search for `feed=Dawn` works either way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

CONTEXT_KEYS = ("feed", "url", "item", "rule", "recipient", "digest", "error", "count", "seconds")


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        context = " ".join(
            f"{k}={_quote(getattr(record, k))}" for k in CONTEXT_KEYS if hasattr(record, k)
        )
        line = f"{when} {record.levelname:<7} {record.getMessage()}" + (
            f"  {context}" if context else ""
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def setup(*, level: int = logging.INFO, fmt: str = "human") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries' own chatter (scheduler ticks, HTTP requests) stays out unless asked for.
    for noisy in ("apscheduler", "httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # A tick skipped because the previous pass still runs is by design (max_instances=1).
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
