"""``python -m soak --days 20 --max-open 200``: run the soak and print its report."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from soak.probes import machine
from soak.run import Plan, Result, soak


def _table(title: str, rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title, "-" * len(title)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def report(result: Result) -> str:
    mean, peak = result.tap.rates()
    plan = result.plan
    summary = [
        ("trading days", str(result.sessions)),
        ("max open (cap)", str(plan.max_open)),
        ("market speed", f"{plan.speed:g}x"),
        ("wall time", f"{result.wall_s:.0f} s"),
        ("events on the bus", str(result.tap.total)),
        ("events/s mean, peak", f"{mean:.0f}, {peak:.0f}"),
        ("strategies opened, closed", f"{result.opened}, {result.closed}"),
        ("open at the end", str(result.open_at_end)),
    ]
    families = [("family", "events")] + [
        (f, str(n)) for f, n in result.tap.per_family.most_common()
    ]
    memory = [("process", "peak MB", "warm MB", "late MB")] + [
        (name, *(f"{v:.0f}" for v in result.memory.summary(name)))
        for name in sorted(result.memory.samples)
    ]
    files = [("table", "active files", "parquet on disk")] + [
        (name, str(active), str(disk)) for name, (active, disk) in result.files.items()
    ]
    mb = 1024 * 1024
    streams = [("stream", "messages", "max messages", "MB", "max MB")] + [
        (name, str(n), str(max_n), f"{size / mb:.1f}", f"{max_size / mb:.0f}")
        for name, (n, max_n, size, max_size) in result.streams.items()
    ]
    verdict = "identical" if not result.differences else f"{len(result.differences)} differ"
    recon = [
        ("broker contracts (sim)", str(result.broker_contracts)),
        ("strategies in the book", str(result.book_strategies)),
        ("broker vs book", verdict),
        *(("  diff", d) for d in result.differences[:20]),
    ]
    return "\n\n".join(
        [
            _table("machine", [("item", "value"), *machine()]),
            _table("soak", [("item", "value"), *summary]),
            _table("events by family", families),
            _table("memory (VmRSS)", memory),
            _table("Delta tables", files),
            _table("JetStream streams", streams),
            _table("reconciliation", [("item", "value"), *recon]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--days", type=int, default=20, help="trading days of market time")
    parser.add_argument("--max-open", type=int, default=200, help="open strategies at most")
    parser.add_argument("--speed", type=float, default=600.0, help="market s per wall s")
    parser.add_argument("--data-root", help="where tables and logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    root = Path(args.data_root or tempfile.mkdtemp(prefix="v6-soak-")).resolve()
    plan = Plan.sized(args.days, args.max_open, root / "data", args.speed)
    print(
        f"soak: {plan.days} days, up to {plan.max_open} open on {len(plan.symbols)} symbols, "
        f"logs in {root}/soak.log"
    )
    result = asyncio.run(soak(plan, root / "soak.log"))
    print(report(result))
    return 0 if not result.differences else 1


if __name__ == "__main__":
    raise SystemExit(main())
