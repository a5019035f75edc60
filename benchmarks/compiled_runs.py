"""Whole runs compiled by torch.compile(fullgraph=True) against the same runs in eager mode.

    python benchmarks/compiled_runs.py --threads 1 --repeats 9
    python benchmarks/compiled_runs.py --backend aot_eager --samplers ddim,dpmpp_2m,dpmpp_3m,unipc,deis

The same setting as ``whole_run.py``: a trivial model (ε̂ = 0.1·x), a (4, 4, 64, 64)
float32 latent on CPU, 20 steps of the preset's grid (``--preset``, default
stable_cascade), cfg off and on (scale 3, ``cfg_rho=0``). ``GDF.sample_final`` is
compiled whole: the grid, the sampler's plan (built in the graph on every call: a
traced run does not use the GDF's plan cache, ``gdf_core.run_plans``) and every step.

Columns: "eager" is a repeated eager run (its plan cached), "eager cold" one that
builds its plan (a second GDF, its cache cleared before each run), "compiled" the
compiled 20-step run; "fixed/steady" is T(20)/(T(40) − T(20)) of the compiled runs,
the whole 20-step run over the marginal cost of 20 more steps: what building the
plan and the first step cost on top of steady stepping when both are compiled.
"max |Δ|" is the compiled run's largest difference to the eager one, over the
eager run's largest value (fusion reorders float32 arithmetic). "compile s": the first call's seconds, per step count.
Inductor needs a C++ compiler on CPU; ``--backend aot_eager`` traces without one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from _setup import interleaved  # noqa: E402  (puts gdf on the path)
from gdf_core import GDF  # noqa: E402

SHAPE = (4, 4, 64, 64)


def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    return 0.1 * x


def runs(preset: str, sampler: str, cfg: float | None, x: torch.Tensor, backend: str) -> tuple[dict[str, Callable[[], torch.Tensor]], dict[str, float]]:
    warm = GDF.from_spec({"preset": preset, "sampler": sampler})
    cold = GDF.from_spec({"preset": preset, "sampler": sampler})

    def run(gdf: GDF, steps: int) -> Callable[[], torch.Tensor]:
        return lambda: gdf.sample_final(model, {}, SHAPE, timesteps=steps, x_init=x, cfg=cfg, cfg_rho=0.0)

    def eager_cold() -> torch.Tensor:
        cold._run_plans.clear()
        return run(cold, 20)()

    compiled, seconds = {}, {}
    for steps in (20, 40):
        fn = torch.compile(run(warm, steps), fullgraph=True, backend=backend)
        t0 = time.perf_counter()
        fn()
        seconds[f"compile {steps}"] = time.perf_counter() - t0
        compiled[steps] = fn
    fns = {"eager": run(warm, 20), "eager cold": eager_cold, "compiled": compiled[20], "compiled 40": compiled[40]}
    reference = run(warm, 20)()
    seconds["max |Δ|"] = ((compiled[20]() - reference).abs().max() / reference.abs().max()).item()
    return fns, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--backend", default="inductor")
    parser.add_argument("--preset", default="stable_cascade")
    parser.add_argument("--samplers", default="ddim,dpmpp_2m,unipc")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch._dynamo.config.cache_size_limit = 64
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    print(f"{args.backend}, {args.preset}, {SHAPE} float32, 20 steps, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'run':<22}{'eager ms':>10}{'eager cold':>12}{'compiled':>10}{'eager/compiled':>16}{'fixed/steady':>14}{'max |Δ|':>10}{'compile s':>11}")
    for name in args.samplers.split(","):
        for cfg in (None, 3.0):
            fns, info = runs(args.preset, name, cfg, x, args.backend)
            med = {k: statistics.median(v) * 1e3 for k, v in interleaved(fns, args.repeats).items()}
            fixed = med["compiled"] / (med["compiled 40"] - med["compiled"])
            label = f"{name} cfg={'on' if cfg else 'off'}"
            print(
                f"{label:<22}{med['eager']:>10.2f}{med['eager cold']:>12.2f}{med['compiled']:>10.2f}"
                f"{med['eager'] / med['compiled']:>16.2f}{fixed:>14.2f}{info['max |Δ|']:>10.1e}"
                f"{info['compile 20']:>6.0f}/{info['compile 40']:.0f}",
                flush=True,
            )
            torch._dynamo.reset()


if __name__ == "__main__":
    main()
