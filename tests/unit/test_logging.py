"""Structured log lines: JSON with the service name when not on a terminal."""

from __future__ import annotations

import json
import logging

import pytest

from shared.config import LoggingConfig
from shared.logging import setup_logging


def test_json_lines_carry_the_service_and_extra_fields(capsys: pytest.CaptureFixture) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(LoggingConfig(json=True), "monitor")
        logging.getLogger("t").info("valued", extra={"strategy_id": "s1", "upl_pct": 0.5})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["service"], line["msg"], line["strategy_id"], line["upl_pct"]) == (
        "monitor",
        "valued",
        "s1",
        0.5,
    )
