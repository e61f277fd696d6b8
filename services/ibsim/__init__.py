"""The bundled IB simulator: a TWS-protocol gateway over a seeded synthetic option market."""

from services.ibsim.server import Simulator

__all__ = ["Simulator"]
