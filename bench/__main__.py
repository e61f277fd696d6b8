"""Run every ``bench/bench_*.py`` module and print its rows with the machine they ran on."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

import numpy as np

import bench

Row = tuple[str, str, str]


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> list[str]:
    return [
        f"cpu: {_cpu_model()}",
        f"cores: {os.cpu_count()}",
        f"python: {platform.python_version()} ({platform.python_implementation()})",
        f"numpy: {np.__version__}",
        f"platform: {platform.platform()}",
    ]


def discover(selected: list[str]) -> list[str]:
    """Module names ``bench.bench_<x>``, all of them or those whose ``<x>`` was asked for."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(bench.__path__) if info.name.startswith("bench_")
    )
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    return [f"bench.{n}" for n in names]


def print_table(title: str, rows: list[Row]) -> None:
    header: Row = ("benchmark", "figure", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    print(f"\n## {title}")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: list[str]) -> int:
    print("\n".join(machine_info()))
    failed = 0
    for module_name in discover(argv):
        started = time.perf_counter()
        try:
            rows = importlib.import_module(module_name).run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            print(f"\n## {module_name}: failed: {type(exc).__name__}: {exc}")
            continue
        print_table(f"{module_name} ({time.perf_counter() - started:.1f} s)", rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
