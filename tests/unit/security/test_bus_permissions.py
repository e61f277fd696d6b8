"""The one declaration of who may publish what: server allow-lists and the producer check."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fixtures.events import make

from shared.bus.answers import is_inbox
from shared.bus.credentials import (
    AUTH_CONF,
    Credentials,
    CredentialsError,
    generate,
    load,
    login_options,
    server_config,
    split_logins,
)
from shared.bus.permissions import (
    SERVICES,
    ProducerCheck,
    WrongProducer,
    may_publish,
    permissions,
    permissions_of,
)
from shared.config import NatsConfig
from shared.events import DecisionMade, OrderFilled, PositionSnapshot, StrategyBuilt

USERS = (*SERVICES, "operator", "tap", "ibsim")


def _publishers(subject: str) -> set[str]:
    return {user for user in USERS if may_publish(user, subject, "v6")}


@pytest.mark.parametrize(
    ("subject", "only"),
    [
        ("v6.order.placed.s-1", {"execution"}),
        ("v6.order.status.s-1", {"execution"}),
        ("v6.exit.s-1", {"execution"}),
        ("v6.md.SPY", {"execution"}),
        ("v6.decision.s-1", {"decision"}),
        ("v6.signal.SPY", {"entry"}),
        ("v6.strategy.built.SPY", {"entry"}),
        ("v6.position.s-1", {"monitor"}),
        ("v6.cmd.close_all", {"operator"}),
        ("v6.sim.advance", {"operator"}),
        ("v6.dlq.decision", {"decision"}),
    ],
)
def test_each_event_family_has_exactly_its_declared_publishers(subject: str, only: set[str]):
    assert _publishers(subject) == only


def test_admin_alone_may_create_streams_and_consumers():
    create = ("$JS.API.STREAM.CREATE.V6_ORDERS", "$JS.API.CONSUMER.CREATE.V6_ORDERS.x")
    for subject in create:
        assert _publishers(subject) == set()
        assert may_publish("admin", subject, "v6")


def test_a_service_may_pull_and_ack_only_its_own_consumers():
    assert may_publish("monitor", "$JS.API.CONSUMER.MSG.NEXT.V6_ORDERS.monitor-orders", "v6")
    assert may_publish("monitor", "$JS.ACK.V6_ORDERS.monitor-orders.1.5.5.0.0", "v6")
    assert not may_publish("monitor", "$JS.API.CONSUMER.MSG.NEXT.V6_ORDERS.entry-orders", "v6")
    assert not may_publish("decision", "$JS.ACK.V6_DECISIONS.execution-decisions.1.1.1.0.0", "v6")


def test_execution_alone_may_hold_its_lease_and_touches_no_other_bucket():
    lease = "$KV.V6_EXECUTION_LEASE.account.DU1234567"
    assert _publishers(lease) == {"execution"}
    assert _publishers("$JS.API.STREAM.MSG.GET.KV_V6_EXECUTION_LEASE") == {"execution"}
    assert not may_publish("execution", "$KV.OTHER.key", "v6")
    assert not may_publish("execution", "$JS.API.STREAM.CREATE.KV_V6_EXECUTION_LEASE", "v6")
    assert not may_publish("execution", "$JS.API.STREAM.PURGE.KV_V6_EXECUTION_LEASE", "v6")


def test_tap_publishes_nothing_and_reads_everything_under_the_prefix():
    tap = permissions_of("tap", "v6")
    assert tap is not None
    assert tap.publish == ()
    assert tap.subscribe == ("v6.>",)


def test_the_simulator_channel_is_read_only_by_the_ibsim_user_and_the_operator():
    readers = {
        p.user
        for p in permissions("v6")
        if any(s in ("v6.sim.>", ">", "v6.>") for s in p.subscribe)
    }
    assert readers == {"ibsim", "operator", "tap", "admin"}
    assert not any(
        s.startswith("v6.sim") for u in SERVICES for s in permissions_of(u, "v6").subscribe
    )


def test_each_user_reads_replies_only_from_its_own_inbox():
    for user in SERVICES:
        inboxes = [s for s in permissions_of(user, "v6").subscribe if s.startswith("_INBOX")]
        assert inboxes == [f"_INBOX_{user}.>"]


def test_a_decision_claiming_another_producer_is_refused():
    check = ProducerCheck("v6")
    forged = make(DecisionMade, strategy_id="s-1", producer="entry")
    with pytest.raises(WrongProducer) as refused:
        check.verify(forged, "v6.decision.s-1")
    assert "'entry'" in str(refused.value)
    check.verify(make(DecisionMade, strategy_id="s-1", producer="decision"), "v6.decision.s-1")


def test_an_event_arriving_on_a_subject_its_producer_may_not_publish_is_refused():
    fill = make(OrderFilled, strategy_id="s-1", producer="execution")
    with pytest.raises(WrongProducer):
        ProducerCheck("v6").verify(fill, "v6.decision.s-1")


def test_an_unknown_producer_is_refused_unless_trusted_or_the_check_is_off():
    built = make(StrategyBuilt, symbol="SPY", producer="test")
    with pytest.raises(WrongProducer):
        ProducerCheck("v6").verify(built, "v6.strategy.built.SPY")
    ProducerCheck("v6", trusted=("test",)).verify(built, "v6.strategy.built.SPY")
    ProducerCheck("v6", enabled=False).verify(built, "v6.strategy.built.SPY")


def test_the_cli_connection_produces_as_the_operator():
    snapshot = make(PositionSnapshot, strategy_id="s-1", producer="v6-cli")
    with pytest.raises(WrongProducer):
        ProducerCheck("v6").verify(snapshot, "v6.position.s-1")
    assert may_publish("v6-cli", "v6.cmd.halt", "v6")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_credentials_and_server_config_are_private_files(tmp_path: Path):
    secrets, conf = tmp_path / "secrets", tmp_path / "nats" / AUTH_CONF
    generate("v6", secrets, conf)
    assert _mode(secrets) == 0o700
    assert _mode(conf) == 0o600
    files = sorted(secrets.iterdir())
    assert {f.stem for f in files} == {*USERS, "admin"}
    assert all(_mode(f) == 0o600 for f in files)
    for f in files:
        password = json.loads(f.read_text())["password"]
        assert len(password) >= 24
        assert f'"password": "{password}"' in conf.read_text()


def test_regenerating_keeps_the_passwords_so_running_clients_stay_logged_in(tmp_path: Path):
    secrets, conf = tmp_path / "secrets", tmp_path / AUTH_CONF
    generate("v6", secrets, conf)
    first = load(secrets, "decision")
    generate("v6", secrets, conf)
    assert load(secrets, "decision") == first
    assert load(secrets, "v6-cli").user == "operator"


def test_a_password_never_shows_in_a_repr():
    creds = Credentials("entry", "s3cret-value")
    assert "s3cret-value" not in repr(creds)
    assert creds.connect_options()["inbox_prefix"] == "_INBOX_entry"


def test_the_server_config_lets_anonymous_clients_only_discover_services():
    conf = server_config("v6", {p.user: "pw" for p in permissions("v6")})
    assert 'no_auth_user: "discovery"' in conf
    discovery = permissions_of("discovery", "v6")
    assert discovery is not None
    assert all(s.startswith("$SRV.") for s in discovery.publish)


def test_no_user_may_answer_onto_whatever_subject_a_request_names():
    # allow_responses would let an answer through onto any reply subject, a deny list or not
    conf = server_config("v6", {p.user: "pw" for p in permissions("v6")})
    assert "allow_responses" not in conf


@pytest.mark.parametrize(
    ("user", "inboxes"),
    [
        ("entry", {"_INBOX_operator.>", "_INBOX.>"}),
        ("monitor", {"_INBOX_operator.>", "_INBOX.>"}),
        ("decision", {"_INBOX_operator.>", "_INBOX.>"}),
        # the chains and histories entry and monitor ask of it
        ("execution", {"_INBOX_operator.>", "_INBOX.>", "_INBOX_entry.>", "_INBOX_monitor.>"}),
        ("ibsim", {"_INBOX_operator.>"}),  # its control channel obeys the operator alone
    ],
)
def test_a_responder_answers_only_into_the_inboxes_of_who_may_ask_it(user: str, inboxes: set):
    perms = permissions_of(user, "v6")
    assert perms is not None
    assert {p for p in perms.publish if p.startswith("_INBOX")} == inboxes
    assert not any(p.startswith("$SRV") for p in perms.publish)


@pytest.mark.parametrize("user", SERVICES)
def test_a_service_answers_discovery_for_itself_only(user: str):
    perms = permissions_of(user, "v6")
    assert perms is not None
    assert {p for p in perms.subscribe if p.startswith("$SRV")} == {
        "$SRV.PING",
        "$SRV.INFO",
        "$SRV.STATS",
        f"$SRV.*.{user}",
        f"$SRV.*.{user}.*",
    }


@pytest.mark.parametrize(
    ("subject", "inbox"),
    [
        ("_INBOX.abc.1", True),
        ("_INBOX_entry.abc.1", True),
        ("v6.cmd.close_all", False),
        ("v6.strategy.built.SPY", False),
        ("_INBOXES.x", False),
        ("x._INBOX.y", False),
    ],
)
def test_a_service_answers_only_into_an_inbox(subject: str, inbox: bool):
    assert is_inbox(subject) is inbox


def test_a_process_logs_in_from_its_own_login_file(tmp_path: Path):
    secrets = tmp_path / "secrets"
    generate("v6", secrets, tmp_path / AUTH_CONF)
    own = NatsConfig(credentials_file=str(secrets / "entry.json"))
    assert login_options(own, "entry") == load(secrets, "entry").connect_options()
    assert own.secured and not NatsConfig().secured
    with pytest.raises(CredentialsError, match="login of entry, not of execution"):
        login_options(own, "execution")  # handed another's login: refused, not used


def test_each_login_is_also_alone_in_a_private_folder_of_its_own(tmp_path: Path):
    secrets, logins = tmp_path / "secrets", tmp_path / "logins"
    generate("v6", secrets, tmp_path / AUTH_CONF)
    split_logins(secrets, logins)
    folders = sorted(logins.iterdir())
    assert {f.name for f in folders} == {*USERS, "admin"}
    for folder in folders:
        assert [f.name for f in folder.iterdir()] == [f"{folder.name}.json"]
        assert _mode(folder) == 0o700
        assert _mode(folder / f"{folder.name}.json") == 0o600
        assert load(folder, folder.name) == load(secrets, folder.name)
    assert _mode(logins) == 0o700
