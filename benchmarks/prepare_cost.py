"""What a repeated ``sample`` run pays before its loop: ``GDF.prepare_sample``, with and without its caches.

    python benchmarks/prepare_cost.py --repeats 15

Three settings, interleaved (median µs per call over ``--calls`` calls, median of
``--repeats`` rounds): "repeated" (the sampler built from its name and the run
plan both cached, as in a loop over batches), "sampler rebuilt" (the GDF's
built-sampler cache cleared before each call: the sampler validated and built
from its name in every run, as before ``gdf_core.run_plans.BuiltSamplers``), and
"cold" (the run plans cleared too: grid, plan and level tables built).

    python benchmarks/prepare_cost.py --ops ddim,dpmpp_2m,dpmpp_3m,deis,unipc

counts instead the torch calls (under a ``TorchFunctionMode``) that one cold
``prepare_sample`` makes for each sampler named: the plan's cost independent of
the machine's speed.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.overrides import TorchFunctionMode

from _setup import median_iqr  # noqa: E402  (puts gdf on the path)
from gdf_core import GDF  # noqa: E402

SHAPE = (4, 4, 64, 64)


class _CallCount(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return func(*args, **(kwargs or {}))


def count_ops(samplers: list[str]) -> None:
    """Torch calls of one cold ``prepare_sample`` (stable_cascade, 20 steps, (4, 4, 64, 64)) per sampler."""
    x = torch.randn(SHAPE)
    model = lambda x, cond: 0.1 * x  # noqa: E731
    counts = []
    for name in samplers:
        gdf = GDF.from_spec("stable_cascade")
        gdf.prepare_sample(model, {}, SHAPE, sampler=name, timesteps=20, x_init=x, cfg=None, cfg_rho=0.0)  # imports, caches
        gdf._built_samplers.clear()
        gdf._run_plans.clear()
        with _CallCount() as mode:
            gdf.prepare_sample(model, {}, SHAPE, sampler=name, timesteps=20, x_init=x, cfg=None, cfg_rho=0.0)
        counts.append(f"{name} {mode.calls}")
    print("torch calls of a cold prepare_sample (stable_cascade, 20 steps): " + ", ".join(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--sampler", default="dpmpp_2m")
    parser.add_argument("--ops", default=None, help="comma-separated samplers: count torch calls instead of timing")
    args = parser.parse_args()
    if args.ops:
        count_ops(args.ops.split(","))
        return
    torch.set_num_threads(1)
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    model = lambda x, cond: 0.1 * x  # noqa: E731

    def calls(clear_samplers: bool, clear_plans: bool) -> float:
        spent = 0.0
        for _ in range(args.calls):
            if clear_samplers:
                gdf._built_samplers.clear()
            if clear_plans:
                gdf._run_plans.clear()
            t0 = time.perf_counter()
            gdf.prepare_sample(model, {}, SHAPE, sampler=args.sampler, timesteps=20, x_init=x, cfg=None, cfg_rho=0.0)
            spent += time.perf_counter() - t0
        return spent / args.calls

    settings = {"repeated": (False, False), "sampler rebuilt": (True, False), "cold": (True, True)}
    per_call: dict[str, list[float]] = {k: [] for k in settings}
    for r in range(2 + args.repeats):  # interleaved rounds; the first two warm up
        for name, clear in settings.items():
            spent = calls(*clear)
            if r >= 2:
                per_call[name].append(spent)
    print(f"torch {torch.__version__}, 1 thread, {SHAPE} float32, {args.sampler}, 20 steps, "
          f"µs per prepare_sample, median of {args.repeats} interleaved rounds of {args.calls} calls")
    base = median_iqr(per_call["repeated"])[0]
    for name, values in per_call.items():
        med = median_iqr(values)[0]
        print(f"{name:18s} {1e6 * med:9.1f}  {med / base:6.2f}× repeated")

if __name__ == "__main__":
    main()
