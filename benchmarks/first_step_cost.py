"""What the first step of a repeated ``GDF.sample`` run costs, and why: once-per-run code runs with cold caches.

    python benchmarks/first_step_cost.py --threads 1 --repeats 60

The run plan is cached (``gdf_core.run_plans``), so the first step of a
repeated run pays only ``prepare_sample``'s Python (argument checks, the
sampler built from its name, the cache lookup, the denoiser) and its own
step. Three settings, interleaved, medians:

- "hot": the first step of a run taken again at once (nothing else ran since);
- "after a sweep": the same, after touching 32 MiB (more than this CPU's L2,
  1 MiB, and its L3 share), which evicts the code and objects of that Python;
- "after a full run": the first step of a run that follows a whole 20-step run,
  as in ``whole_run.py``'s "whole" column.

The last column counts the step's minor page faults (``ru_minflt``): memory
the allocator had given back to the system and takes again. With glibc's
default settings the end of a run frees enough latents at the top of the
heap for it to be trimmed, so the next run's first steps fault it back in
(run with ``MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=1000000000``,
or jemalloc/tcmalloc, to compare). What remains above "hot" is cache misses of
code that runs once per run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from _setup import ROOT  # noqa: F401  (puts gdf on the path)
from gdf_core import GDF  # noqa: E402

SHAPE = (4, 4, 64, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--sampler", default="dpmpp_2m")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    sweep = torch.zeros(8 * 1024 * 1024)  # 32 MiB
    marks: dict[str, float] = {}

    def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        marks.setdefault("model", time.perf_counter())
        return 0.1 * x

    def first_step(finish: bool) -> tuple[float, float, int]:
        """(ms to the model's first call: prepare_sample and the loop's start, ms of the whole first step,
        minor page faults in it)."""
        marks.clear()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        run = gdf.sample(model, {}, SHAPE, sampler=args.sampler, timesteps=20, x_init=x, cfg=None, cfg_rho=0.0)
        next(run)
        t1 = time.perf_counter()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        if finish:
            for _ in run:
                pass
        else:
            run.close()
        return 1e3 * (marks["model"] - t0), 1e3 * (t1 - t0), faults

    settings = {
        "hot": lambda: None,
        "after a 32 MiB sweep": lambda: sweep.add_(1.0),
        "after a full run": lambda: first_step(True),
    }
    times: dict[str, list[tuple[float, float, int]]] = {k: [] for k in settings}
    for _ in range(5):
        first_step(False)
    for _ in range(args.repeats):
        for name, before in settings.items():
            if name == "hot":
                first_step(False)
            before()
            times[name].append(first_step(False))
    steady = []
    for _ in range(max(5, args.repeats // 6)):
        stamps = [time.perf_counter()]
        for _ in gdf.sample(model, {}, SHAPE, sampler=args.sampler, timesteps=20, x_init=x, cfg=None, cfg_rho=0.0):
            stamps.append(time.perf_counter())
        steady.append(statistics.median(b - a for a, b in zip(stamps[5:-1], stamps[6:])))
    print(f"torch {torch.__version__}, {args.threads} thread(s), {SHAPE} float32, {args.sampler}, "
          f"run plan cached, median of {args.repeats}")
    print(f"{'first step of a run':28s} {'to the model ms':>16s} {'whole step ms':>14s} {'page faults':>12s}")
    for name, rows in times.items():
        print(f"{name:28s} {statistics.median(r[0] for r in rows):16.3f} {statistics.median(r[1] for r in rows):14.3f} "
              f"{statistics.median(r[2] for r in rows):12.0f}")
    print(f"{'a steady step (5-19)':28s} {'':16s} {1e3 * statistics.median(steady):14.3f}")


if __name__ == "__main__":
    main()
