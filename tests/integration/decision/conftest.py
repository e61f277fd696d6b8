import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))

from svc_helpers import collector, spawn

__all__ = ["collector", "spawn"]
