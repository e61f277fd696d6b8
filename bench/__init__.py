"""Benchmarks: each ``bench_*.py`` module here exposes ``run() -> list[tuple[str, str, str]]``.

Run them all with ``python -m bench`` (or some with ``python -m bench optionmath builders``).
"""
