"""A bad configuration stops start-up with one line naming the key, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import ConfigError, load_config

# (TOML, the key the error must name)
BAD_CONFIGS = [
    ("[entry\nvix_max = 30", "not valid TOML"),
    ("surprise = 1", "surprise"),
    ("[entry]\nmax_strategies_per_symbl = 3", "max_strategies_per_symbl"),
    ("[rules.take_profit]\nclose_att = 0.8", "close_att"),
    ("[rules.stop_loss]\ncredit_stop = 'steep'", "$.rules.stop_loss.credit_stop"),
    ("[nats]\nmax_deliveries = 'five'", "$.nats.max_deliveries"),
    ("[universe]\nsymbols = 'SPY'", "$.universe.symbols"),
    ("[entry]\nmax_position_risk_pct = 3.0", "entry.max_position_risk_pct"),
    ("[entry]\nvix_min = 40.0", "entry.vix_min"),
    ("[builder]\ntarget_dte = 90", "builder.target_dte"),
    ("[rules.take_profit]\nreduce_at = 0.9\nclose_at = 0.8", "rules.take_profit.reduce_at"),
    ("[nats]\nreplicas = 2", "nats.replicas"),
    # a stream without a limit (-1 or 0 to the server) could grow until the disk is full
    ("[nats]\nstream_max_bytes = -1", "nats.stream_max_bytes"),
    ("[nats]\nstream_max_msgs = 0", "nats.stream_max_msgs"),
    ("[nats]\nstream_max_age_s = 60", "nats.stream_max_age_s"),
    ("[nats]\nmax_reconnect_s = 0", "nats.max_reconnect_s"),
    ("[ib]\nport = 70000", "ib.port"),
    ("[storage]\nbatch_max_seconds = 0", "storage.batch_max_seconds"),
]


@pytest.mark.parametrize(("toml", "key"), BAD_CONFIGS, ids=[k for _, k in BAD_CONFIGS])
def test_load_config_names_the_bad_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert key in str(err.value)


def test_an_environment_override_of_an_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"V6__ENTRY__MAX_STRATEGIES": "9"})
    assert "max_strategies" in str(err.value)


def _run(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "V6_CONFIG": str(config)}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "services.entry"],
        [sys.executable, "-m", "services.execution"],
        [str(Path(sys.executable).parent / "v6"), "up"],
    ],
    ids=["service", "execution", "v6-up"],
)
def test_a_process_with_a_bad_config_exits_with_one_line_naming_the_key(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[rules.take_profit]\nclose_att = 0.8\n")
    done = _run(command, path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "close_att" in lines[0]
    assert "Traceback" not in done.stderr
