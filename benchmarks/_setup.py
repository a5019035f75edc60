"""Shared set-up of the benchmarks: gdf from the checkout, one thread, interleaved medians."""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))
try:
    import gdf_plugins  # noqa: F401
except ImportError:  # not installed: the built-in plugins live in plugins/ of the checkout
    sys.modules["gdf_plugins"] = importlib.import_module("plugins")


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each run, interleaved over ``repeats`` rounds (after ``warmup`` rounds)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(warmup + repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
    return times


def median_iqr(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return statistics.median(values), q[0], q[2]
