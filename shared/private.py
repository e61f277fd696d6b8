"""Files only their owner may read: the data root, the Delta tables, the NATS store and secrets.

Every process of v6 calls ``keep_private`` where it starts (a service's ``main``, the
simulator, `v6 up`), so whatever it creates afterwards (table files by delta-rs, the NATS store
by a child nats-server) is 0600, its folders 0700, without each writer having to ask.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# what new files and folders lose: every right of the group and of others
PRIVATE_UMASK = 0o077


def keep_private() -> None:
    """From now on this process (and its children) creates files for its owner only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter (an existing one is narrowed to that)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file created 0600 from the start: no window where another could open
    it; an existing file is narrowed too (it keeps its old mode through ``O_CREAT``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, PRIVATE_FILE)
