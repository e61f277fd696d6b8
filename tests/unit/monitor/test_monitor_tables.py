from fixtures.events import NOW, condor_market, filled, placed

from services.monitor.book import PositionBook
from services.monitor.tables import (
    OPTION_SNAPSHOTS,
    POSITIONS,
    option_rows,
    position_from_row,
    position_row,
)
from shared.storage import to_arrow


def test_position_row_round_trips_through_the_table_schema() -> None:
    book = PositionBook()
    book.on_order_placed(placed())
    pos = book.on_order_filled(filled(), NOW)
    pos.iv_at_entry, pos.vix_at_entry = 0.2, 18.0
    (row,) = to_arrow("positions", POSITIONS.schema, [position_row(pos, NOW)]).to_pylist()
    assert row["max_profit"] == 120.0 and row["max_loss"] == 880.0
    assert position_from_row(row) == pos


def test_option_rows_keep_only_option_quotes() -> None:
    rows = option_rows(condor_market(), NOW)
    to_arrow("option_snapshots", OPTION_SNAPSHOTS.schema, rows)
    assert len(rows) == 4 and {r["symbol"] for r in rows} == {"SPY"}
