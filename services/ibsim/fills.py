"""The fill model of resting limit orders: when a limit inside the spread fills, and how much.

A real book fills a limit between the mid and the natural price sometimes, more often the
closer it sits to the natural and the longer it rests, and never worse than the limit:

- a limit at or beyond the natural price is marketable and fills at once, at the natural;
- a limit inside the spread fills with a hazard (chance per simulated second) of
  ``fill_rate_per_s x depth^fill_rate_exponent x (1 + rested_s / fill_rest_ramp_s)``, where
  ``depth`` is how far the limit sits from the mid toward the natural (0 at the mid, 1 at the
  natural); at or behind the mid it never fills. When it fills, it fills at its limit;
- with ``sim.fill_inside_spread`` off, only a marketable limit fills (every walk pays the spread).

The chances come from one ``random.Random`` seeded from ``SimConfig.seed``, and the hazard
integrates over the simulated time between two checks, so the model runs the same at any
``time_speed``.
"""

from __future__ import annotations

import math
import random

from shared.config import SimConfig

TOLERANCE = 1e-9


def depth(limit: float, mid: float, natural: float, buying: bool) -> float:
    """How far ``limit`` sits from ``mid`` toward ``natural``: <= 0 at or behind the mid, >= 1
    at or beyond the natural."""
    sign = 1.0 if buying else -1.0
    half_spread = sign * (natural - mid)
    if half_spread <= TOLERANCE:  # a locked or crossed quote: only the natural is a price
        return 1.0 if sign * (limit - natural) >= -TOLERANCE else 0.0
    return sign * (limit - mid) / half_spread


def hazard(config: SimConfig, limit_depth: float, rested_s: float) -> float:
    """Fill chance per simulated second of a limit at ``limit_depth`` resting ``rested_s``."""
    if limit_depth <= 0:
        return 0.0
    ramp = 1.0 + max(rested_s, 0.0) / config.fill_rest_ramp_s
    return config.fill_rate_per_s * min(limit_depth, 1.0) ** config.fill_rate_exponent * ramp


class FillModel:
    """Decides, check by check, whether a resting limit fills and how many units."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)

    def fills_inside(self, limit_depth: float, rested_s: float, elapsed_s: float) -> bool:
        """Whether a limit inside the spread fills within the ``elapsed_s`` since its last check."""
        if not self.config.fill_inside_spread or elapsed_s <= 0:
            return False
        chance = 1.0 - math.exp(-hazard(self.config, limit_depth, rested_s) * elapsed_s)
        return self._rng.random() < chance

    def units(self, remaining: float) -> float:
        """Whole units of one fill: all of ``remaining``, or above ``partial_fill_above`` a
        random part of at most that many (the size shown at a price is limited)."""
        cap = self.config.partial_fill_above
        if cap <= 0 or remaining <= cap:
            return remaining
        return float(self._rng.randint(1, cap))
