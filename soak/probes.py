"""What the soak measures while it runs: bus traffic, memory per process, table files."""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared.bus.streams import STREAMS


@dataclass
class BusTap:
    """Counts every message on the prefix, per subject family, by wall-clock second."""

    per_second: Counter[int] = field(default_factory=Counter)
    per_family: Counter[str] = field(default_factory=Counter)
    prefix_len: int = 0

    def on_msg(self, msg: Msg, wall_second: int) -> None:
        self.per_second[wall_second] += 1
        tokens = msg.subject.split(".")
        self.per_family[".".join(tokens[1:3] if tokens[1] == "strategy" else tokens[1:2])] += 1

    @property
    def total(self) -> int:
        return sum(self.per_second.values())

    def rates(self) -> tuple[float, float]:
        """(mean, peak) events per second over the seconds seen."""
        if not self.per_second:
            return 0.0, 0.0
        first, last = min(self.per_second), max(self.per_second)
        span = max(1, last - first + 1)
        return self.total / span, float(max(self.per_second.values()))


def rss_kb(pid: int) -> int | None:
    """Resident memory of a live process (VmRSS, kB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


@dataclass
class MemoryTrace:
    """VmRSS samples of each named process, to tell a leak from a warm-up."""

    samples: dict[str, list[int]] = field(default_factory=dict)

    def sample(self, pids: dict[str, int]) -> None:
        for name, pid in pids.items():
            kb = rss_kb(pid)
            if kb is not None:
                self.samples.setdefault(name, []).append(kb)

    def summary(self, name: str) -> tuple[float, float, float]:
        """(peak MB, median MB of the second quarter, median MB of the last quarter).

        The first quarter is the warm-up; a flat process has the last two medians close.
        """
        kb = self.samples.get(name) or [0]
        q = max(1, len(kb) // 4)
        warm = kb[q : 2 * q] or kb
        late = kb[-q:]
        return max(kb) / 1024, statistics.median(warm) / 1024, statistics.median(late) / 1024


def table_files(data_root: Path) -> dict[str, tuple[int, int]]:
    """Per ``service/table``: (active files in the Delta log, parquet files on disk)."""
    out: dict[str, tuple[int, int]] = {}
    for log_dir in sorted(data_root.glob("*/*/_delta_log")):
        table_dir = log_dir.parent
        name = f"{table_dir.parent.name}/{table_dir.name}"
        on_disk = sum(1 for _ in table_dir.rglob("*.parquet"))
        out[name] = (len(DeltaTable(str(table_dir)).file_uris()), on_disk)
    return out


async def stream_sizes(nc: Client, prefix: str) -> dict[str, tuple[int, int, int, int]]:
    """Each stream's (messages, max messages, bytes, max bytes), as the server holds them."""
    js = nc.jetstream()
    sizes: dict[str, tuple[int, int, int, int]] = {}
    for spec in STREAMS:
        info = await js.stream_info(spec.name(prefix))
        state, config = info.state, info.config
        sizes[spec.key] = (
            state.messages,
            config.max_msgs or -1,
            state.bytes,
            config.max_bytes or -1,
        )
    return sizes


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("Python", platform.python_version()),
        ("OS", platform.platform()),
    ]
