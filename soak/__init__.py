"""The soak run: the whole system in accelerated market time for many trading days.

``python -m soak --days 20 --max-open 200`` (``make soak``): NATS, the IB simulator and the four
services as subprocesses; reports event rates, memory per service, Delta file counts and a
final reconciliation of the simulator's positions against the system's book. Not a test.
"""
