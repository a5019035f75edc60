"""Ablation of the demo's denoiser: each change → the ODE solution's distance to the data, per preset.

For every preset and every variant (interleaved: preset by preset, the variants
in turn, so that a busy machine slows them alike) it trains the demo's model on
one thread, solves the model's ODE (DDIM at ``--ode-steps``) from ``--chunks``
sets of 2000 fixed noise points, and prints the sliced Wasserstein distance
(SWD) of each set to its own fresh 2000-point draw of the data, against the
floor: the SWD between two independent 2000-point draws.

Why chunks: at 2000 points one SWD is a noisy number. Over seeds, two draws of
two moons are 0.048 apart (median) with a standard deviation of 0.016, and a
fresh draw is 0.062 ± 0.011 from the demo's own truth draw (seed 1), as large
as the gap between a good model and a blurry one. So the benchmark reports

* ``ratio``: mean over the chunks of SWD(ODE solution, data) over the mean over
  ``--floor-pairs`` pairs of SWD(draw, draw), both at 2000 points: the expected
  value of the demo's "× floor" figure, its noise averaged away;
* ``demo_ratio``: chunk 0 alone, which is the demo's own figure (its noise seed
  3, its data draws seeds 1 and 2; the demo solves at 2000 steps).

The variant ``exact`` is no network at all: the exact posterior mean of the
data (two half circles, uniform in angle, plus N(0, 0.06²)), which is what a
perfect model would learn; its ratio is what the measurement itself allows.
Variants that change the cost of a step (width, batch) train fewer steps so
that every variant trains about as long as ``base``; ``step_cost`` is each
variant's measured time per step over ``base``'s, ``time`` its training time
over ``base``'s, in the same run.

    .venv/bin/python benchmarks/demo_model.py                       # every preset, every variant
    .venv/bin/python benchmarks/demo_model.py --variants base,new --presets edm,ddpm
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from typing import Any, Callable

import torch
from torch import nn

from gdf_core import GDF, registry
from gdf_core.demo.data import DATASETS, draw
from gdf_core.demo.exact import ExactDenoiser, mixture
from gdf_core.demo.model import MLPDenoiser, NoiseCondEmbedding
from gdf_core.demo.precondition import Preconditioned
from gdf_core.demo.quality import sliced_wasserstein
from gdf_core.demo.reference import rms_distance, solve
from gdf_core.demo.run import noise_cond_scale
from gdf_core.demo.train import train

CHUNK = 2000


def plain(**kw: Any) -> Callable[[GDF, float], nn.Module]:  # the demo's default model (run.demo_model), changed by kw
    return lambda gdf, scale: MLPDenoiser(embedding=NoiseCondEmbedding(scale=noise_cond_scale(gdf)), **kw)


def precond(**kw: Any) -> Callable[[GDF, float], nn.Module]:
    return lambda gdf, scale: Preconditioned(MLPDenoiser(embedding=NoiseCondEmbedding(16, 0.5, 50.0), **kw), gdf, sigma_data=scale)


#: name → (model factory, train options, steps and batch relative to base's). Each line says what it changes.
VARIANTS: dict[str, tuple[Callable[[GDF, float], nn.Module], dict[str, Any], float, float]] = {
    "base": (plain(), {}, 1.0, 1.0),  # the demo's default: lr 2e-3 → 2e-4, EMA 0.995, batch 512, width 128, depth 3
    "lr5e-3_to0": (plain(), {"lr": 5e-3, "lr_final": 0.0}, 1.0, 1.0),
    "lr1e-2_to0": (plain(), {"lr": 1e-2, "lr_final": 0.0}, 1.0, 1.0),
    "lr2e-3_to0": (plain(), {"lr_final": 0.0}, 1.0, 1.0),
    "ema999": (plain(), {"ema_decay": 0.999}, 1.0, 1.0),
    "ema_pow": (plain(), {"ema_sigma_rel": 0.05}, 1.0, 1.0),
    "noclip": (plain(), {"clip": None}, 1.0, 1.0),
    "batch2048": (plain(), {}, 0.25, 4.0),
    "wide256": (plain(hidden=256), {}, 0.5, 1.0),
    "deep6": (plain(depth=6), {}, 0.5, 1.0),
    "precond": (precond(), {"betas": (0.9, 0.99)}, 1.0, 1.0),
    "exact": (lambda gdf, scale: ExactDenoiser(gdf, *mixture("two_moons")), {}, 0.0, 1.0),
}


def step_cost(gdf: GDF, variant: str, scale: float, data: str, steps: int = 30) -> float:
    factory, options, _, batch = VARIANTS[variant]
    torch.manual_seed(0)
    result = train(gdf, factory(gdf, scale), lambda k, g: DATASETS[data](k, g), steps=steps, batch_size=int(512 * batch),
                   progress=False, **options)
    return result.seconds / result.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="base's training steps (batch 512)")
    parser.add_argument("--presets", default=",".join(sorted(registry.presets())))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="two_moons")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--floor-pairs", type=int, default=100)
    parser.add_argument("--ode-steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="the training seed (torch.manual_seed before each model is made)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, variants = args.data, args.variants.split(",")
    truth = [draw(data, CHUNK, seed=1)] + [draw(data, CHUNK, seed=100 + k) for k in range(1, args.chunks)]
    x_init = torch.cat([torch.randn(CHUNK, 2, generator=torch.Generator().manual_seed(3))]
                       + [torch.randn(CHUNK, 2, generator=torch.Generator().manual_seed(300 + k)) for k in range(1, args.chunks)])
    demo_floor = sliced_wasserstein(truth[0], draw(data, CHUNK, seed=2))
    pairs = [sliced_wasserstein(draw(data, CHUNK, seed=1000 + 2 * k), draw(data, CHUNK, seed=1001 + 2 * k)) for k in range(args.floor_pairs)]
    floor = statistics.fmean(pairs)
    scale = float(draw(data, 100_000, seed=4).std(dim=0).pow(2).mean().sqrt())
    print(f"floor: {floor:.4f} (mean of {args.floor_pairs} pairs of {CHUNK}-point draws, sd {statistics.stdev(pairs):.4f}); "
          f"the demo's own pair: {demo_floor:.4f}; σ_d = {scale:.3f}", flush=True)
    rows, last_exact = [], None
    for preset in args.presets.split(","):
        gdf = GDF.from_spec(preset)
        trained = [v for v in variants if VARIANTS[v][2] > 0]
        costs: dict[str, list[float]] = {v: [] for v in trained}
        for _ in range(3):  # interleaved repeats, medians
            for v in trained:
                costs[v].append(step_cost(gdf, v, scale, data))
        cost = {v: statistics.median(c) for v, c in costs.items()}
        base_seconds = None
        try:
            x_exact, exact_from = solve(gdf, ExactDenoiser(gdf, *mixture(data)), x_init, sampler="ddim", steps=args.ode_steps), preset
            if last_exact:  # the exact flow is the same for every recipe, up to the solver and the grid's ends
                print(json.dumps({"preset": preset, "exact_vs": last_exact[1], "swd": round(sliced_wasserstein(x_exact, last_exact[0]), 4),
                                  "rms": round(rms_distance(x_exact, last_exact[0]), 4)}), flush=True)
        except ValueError:  # a discrete noise condition: the exact flow is the same up to the solver, borrow another's
            exact_from = last_exact[1] if last_exact else None
            x_exact = last_exact[0] if last_exact else None
        if exact_from == preset:
            last_exact = (x_exact, preset)
        exact_swd = [sliced_wasserstein(x_exact[k * CHUNK:(k + 1) * CHUNK], truth[k]) for k in range(args.chunks)] if x_exact is not None else None
        for variant in variants:
            factory, options, steps_factor, batch = VARIANTS[variant]
            torch.manual_seed(args.seed)
            try:
                model = factory(gdf, scale)
            except ValueError as exc:  # the exact model needs a noise condition that gives λ
                print(json.dumps({"preset": preset, "variant": variant, "skipped": str(exc)[:80]}), flush=True)
                continue
            seconds, loss = 0.0, float("nan")
            if steps_factor > 0:
                result = train(gdf, model, lambda k, g: DATASETS[data](k, g), steps=round(args.steps * steps_factor),
                               batch_size=int(512 * batch), progress=False, **options)
                model, seconds, loss = result.model, result.seconds, statistics.fmean(result.losses[-200:])
                if variant == "base":
                    base_seconds = seconds
            start = time.perf_counter()
            x = x_exact if variant == "exact" and exact_from == preset else solve(gdf, model, x_init, sampler="ddim", steps=args.ode_steps)
            swd = [sliced_wasserstein(x[k * CHUNK:(k + 1) * CHUNK], truth[k]) for k in range(args.chunks)]
            row = {"preset": preset, "variant": variant, "seed": args.seed, "ratio": statistics.fmean(swd) / floor,
                   "demo_ratio": swd[0] / demo_floor, "ode_swd": statistics.fmean(swd)}
            if exact_swd is not None:
                diff = [a - b for a, b in zip(swd, exact_swd)]
                row.update({"cv_ratio": 1 + statistics.fmean(diff) / floor,
                            "cv_se": statistics.stdev(diff) / math.sqrt(len(diff)) / floor if len(diff) > 1 else float("nan"),
                            "to_exact": sliced_wasserstein(x, x_exact), "rms_to_exact": rms_distance(x, x_exact),
                            "exact_from": exact_from})
            row.update({"loss": loss, "train_s": seconds,
                        "step_cost": cost[variant] / cost["base"] if variant in cost and "base" in cost else float("nan"),
                        "time": seconds / base_seconds if base_seconds and seconds else float("nan"),
                        "solve_s": time.perf_counter() - start})
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"floor": floor, "demo_floor": demo_floor, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
