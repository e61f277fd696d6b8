"""Structured logging: one line per record, JSON when stdout is not a terminal.

Every line names the service, so the lines of four processes interleaved in one terminal or one
log collector stay attributable.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec

from shared.config import LoggingConfig

# LogRecord attributes that are not user-supplied ``extra`` fields
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s " + service + " %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        return text + "".join(f" {k}={v}" for k, v in extras.items()) if extras else text


def setup_logging(config: LoggingConfig, service: str) -> None:
    """Configure the root logger for one service process (replaces earlier handlers)."""
    as_json = config.json if config.json is not None else not sys.stdout.isatty()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service) if as_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    # nats-py logs every reconnect attempt at ERROR; our callbacks report them once
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
