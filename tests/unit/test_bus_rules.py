"""The pure parts of the bus: the ack/retry/dead-letter decision and the stream table."""

from __future__ import annotations

import msgspec
import nats.errors
import pytest

from shared.bus import CONSUMERS, STREAMS, Verdict, decide, stream_of
from shared.bus.outcome import backoff
from shared.bus.streams import subject_matches
from shared.config import DecisionConfig, NatsConfig
from shared.errors import IBTimeout, Invalid, Refused, Transient
from shared.events import UnknownSchemaVersion
from shared.subjects import Subjects


def test_success_and_refusal_are_acked() -> None:
    assert decide(None, 1, 5).verdict is Verdict.ACK
    assert decide(Refused("halted"), 1, 5).verdict is Verdict.ACK


@pytest.mark.parametrize(
    "error",
    [
        msgspec.DecodeError("bad"),
        msgspec.ValidationError("Expected `int` - at `$.qty`"),
        UnknownSchemaVersion("schema 9"),
        Invalid("unknown strategy"),
    ],
)
def test_unhandleable_messages_are_dead_lettered_on_the_first_delivery(error: Exception) -> None:
    assert decide(error, 1, 5).verdict is Verdict.DEAD_LETTER


@pytest.mark.parametrize(
    "error", [Transient("x"), IBTimeout("x"), TimeoutError(), nats.errors.TimeoutError()]
)
def test_transient_errors_are_retried_with_backoff_from_the_server_count(error: Exception) -> None:
    first, third = decide(error, 1, 5), decide(error, 3, 5)
    assert (first.verdict, third.verdict) == (Verdict.NAK, Verdict.NAK)
    assert third.delay_s == 4 * first.delay_s


def test_a_failure_is_dead_lettered_on_the_last_delivery_not_dropped() -> None:
    assert decide(RuntimeError("bug"), 4, 5).verdict is Verdict.NAK
    assert decide(RuntimeError("bug"), 5, 5).verdict is Verdict.DEAD_LETTER
    assert decide(Transient("still down"), 5, 5).verdict is Verdict.DEAD_LETTER


def test_backoff_is_capped() -> None:
    assert backoff(1, 0.5, 30) == 0.5
    assert backoff(20, 0.5, 30) == 30


@pytest.mark.parametrize(
    ("pattern", "subject", "match"),
    [
        ("v6.order.>", "v6.order.status.s1", True),
        ("v6.order.>", "v6.order", False),
        ("v6.cmd.halt", "v6.cmd.halt", True),
        ("v6.cmd.*", "v6.cmd.halt.x", False),
        ("v6.*.built.>", "v6.strategy.built.SPY", True),
    ],
)
def test_subject_wildcards_match_like_nats(pattern: str, subject: str, match: bool) -> None:
    assert subject_matches(pattern, subject) is match


def test_money_moving_subjects_are_in_streams_and_market_data_and_rpc_are_not() -> None:
    s = Subjects("v6")
    in_streams = [
        s.strategy_built("SPY"),
        s.order_status("s1"),
        s.decision("s1"),
        s.exit("s1"),
        s.cmd("close_all"),
        s.alert("critical"),
        s.dlq("monitor"),
    ]
    assert all(stream_of(x, "v6") is not None for x in in_streams)
    core = [s.md("SPY"), s.position("s1"), s.signal("SPY"), s.rpc_chain(), s.rpc_history()]
    assert [x for x in core if stream_of(x, "v6") is not None] == []


def test_every_consumer_reads_a_declared_stream_within_its_subjects() -> None:
    streams = {s.key: s for s in STREAMS}
    for spec in CONSUMERS:
        stream = streams[spec.stream]
        for f in spec.full_filters("v6"):
            assert stream_of(f.replace(">", "x").replace("*", "x"), "v6") is stream, spec


def test_stream_names_are_valid_and_distinct_per_prefix() -> None:
    names = {s.name("t.ab-1") for s in STREAMS} | {s.name("v6") for s in STREAMS}
    assert len(names) == 2 * len(STREAMS)
    assert all("." not in n and "*" not in n and ">" not in n for n in names)


def test_the_default_stream_limits_hold_20_trading_days_of_a_200_strategy_book() -> None:
    nats_cfg = NatsConfig()
    session_s = 6.5 * 3600
    # the busiest stream: a decision per strategy every repeat_after_s, all session, every day
    decisions = 200 * session_s / DecisionConfig().repeat_after_s * 20
    assert nats_cfg.stream_max_msgs >= 1.5 * decisions
    assert nats_cfg.stream_max_bytes >= nats_cfg.stream_max_msgs * 500  # bytes stored a message
    assert nats_cfg.stream_max_age_s >= 28 * 24 * 3600  # 20 trading days, holidays included
    # what the server reserves for them up front stays within a small machine's disk
    assert len(STREAMS) * nats_cfg.stream_max_bytes <= 2 * 1024**3
