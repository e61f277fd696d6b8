from svc_helpers import collector, spawn

__all__ = ["collector", "spawn"]
