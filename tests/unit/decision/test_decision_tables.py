from fixtures.events import NOW, take_profit_snapshot

from services.decision.tables import (
    DECISIONS,
    RULE_STATES,
    decision_row,
    state_from_row,
    state_row,
)
from services.decision.workflow import DecisionWorkflow
from shared.clock import FixedClock
from shared.config import load_config
from shared.storage import to_arrow


def test_rule_state_and_last_decision_round_trip_through_the_table_schema() -> None:
    wf = DecisionWorkflow(load_config(env={}), FixedClock(NOW))
    out = wf.on_snapshot(take_profit_snapshot())
    (row,) = to_arrow("rule_states", RULE_STATES.schema, [state_row(out.stored, NOW)]).to_pylist()
    assert row["exit_working"] and row["peak_upl_pct"] == 0.85
    assert state_from_row(row) == out.stored
    to_arrow("decisions", DECISIONS.schema, [decision_row(out.decision)])
