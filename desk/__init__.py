"""The operator's desk: the tools above the services (the `v6` command in ``desk.cli``).

The desk may read any service's tables (read-only) and import their table declarations; nothing
below it (``shared``, ``services``) imports the desk.
"""
