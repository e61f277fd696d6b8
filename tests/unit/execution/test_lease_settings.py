"""The lease's key and settings: which account an execution claims, and TTLs that hold."""

from __future__ import annotations

import pytest

from services.execution.lease import lease_key
from shared.config import ConfigError, IBConfig, load_config


def test_the_lease_key_is_the_account_or_else_the_gateway_connection():
    assert lease_key(IBConfig(account="DU1234567")) == "account.DU1234567"
    # a key holds letters, digits and - / _ = . only
    assert lease_key(IBConfig(host="::1", port=4002, client_id=7)) == "gateway.__1.4002"


@pytest.mark.parametrize(
    ("lease", "key"),
    [
        ({"ttl_s": 6.0, "renew_every_s": 3.0}, "execution_lease.renew_every_s"),
        ({"ttl_s": 6.0, "renew_every_s": 0.0}, "execution_lease.renew_every_s"),
        ({"ttl_s": 0.5, "renew_every_s": 0.1}, "execution_lease.ttl_s"),
    ],
)
def test_a_lease_that_could_lapse_between_renewals_is_refused(lease: dict, key: str):
    with pytest.raises(ConfigError) as refused:
        load_config(env={}, overrides={"execution_lease": lease})
    assert key in str(refused.value)
