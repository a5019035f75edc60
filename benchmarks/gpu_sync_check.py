"""Sampling loops with no host synchronisation: every preset × built-in sampler, cfg off and on, on CUDA.

    python benchmarks/gpu_sync_check.py            # needs a CUDA device
    python benchmarks/gpu_sync_check.py --device cpu   # the same runs on the CPU, host reads recorded instead

For each run the components, grid, plan and level tables are prepared
first (``GDF.prepare_sample``: the grid is moved to the device there, a
host-to-device copy), then the loop (``PreparedSample.solve``) runs under
``torch.cuda.set_sync_debug_mode("error")``, which raises at any operation
that synchronises the host with the device (``.item()``, ``.tolist()``, a
device-to-host copy, ``nonzero``, a pageable host-to-device copy, …). The
``sample`` generator is checked the same way from its second step on (its
first ``next`` prepares the run). Stochastic samplers draw from a generator
on the device. Prints one line per failing run and a summary; exits 1 if any
run synchronised. On a CPU the loop runs under
``gdf_core.testing.host_reads.HostReadRecorder`` instead, which records the
reads that would synchronise on a GPU (``tests/test_loop_host_reads.py`` runs
the same check in the suite).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from contextlib import contextmanager

import torch

from _setup import ROOT  # noqa: F401  (puts gdf on the path)
from gdf_core import GDF, registry  # noqa: E402
from gdf_core.testing.host_reads import HostReadRecorder  # noqa: E402
from gdf_plugins.presets import PRESETS  # noqa: E402

SAMPLERS = registry.builtin_names("sampler")


class HostRead(RuntimeError):
    """A read the recorder saw (the CPU stand-in for CUDA's sync error)."""


@contextmanager
def no_sync(device: torch.device):
    if device.type != "cuda":
        with HostReadRecorder() as recorder:
            yield
        if recorder.reads:
            what, where = recorder.reads[0]
            raise HostRead(f"{len(recorder.reads)} host reads; the first: {what} at {where}")
        return
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def model(x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    c = torch.tanh(cond.to(x.dtype)).view(-1, *([1] * (x.dim() - 1)))
    return 0.5 * torch.tanh(x) + 0.1 * c * x + 0.2 * label.view(-1, *([1] * (x.dim() - 1)))


def check(gdf: GDF, sampler: str, cfg: float | None, device: torch.device, steps: int) -> None:
    shape = (2, 4, 16, 16)
    inputs = {"label": torch.tensor([1.0, -1.0], device=device)}
    x_init = torch.randn(shape, device=device, generator=torch.Generator(device).manual_seed(0))
    gen = torch.Generator(device).manual_seed(1)
    run = gdf.prepare_sample(model, inputs, shape, sampler=sampler, timesteps=steps, x_init=x_init, cfg=cfg,
                             device=device, generator=gen)
    with no_sync(device):
        x = run.solve(generator=gen)
    assert x.device.type == device.type
    if not bool(torch.isfinite(x).all()):  # after the check: this read is ours
        raise FloatingPointError("non-finite samples")
    it = gdf.sample(model, inputs, shape, sampler=sampler, timesteps=steps, x_init=x_init, cfg=cfg, device=device,
                    generator=torch.Generator(device).manual_seed(1))
    next(it)
    with no_sync(device):
        for _ in it:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--presets", nargs="*", default=sorted(PRESETS))
    parser.add_argument("--steps", type=int, nargs="*", default=[1, 7, 20])
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu for a dry run (no synchronisation check)")
    failures, runs = [], 0
    for preset in args.presets:
        gdf = GDF.from_spec(preset)
        for sampler in SAMPLERS:
            for cfg in (None, 3.0):
                for steps in args.steps:
                    runs += 1
                    try:
                        check(gdf, sampler, cfg, device, steps)
                    except Exception as exc:  # noqa: BLE001  (reported, then counted)
                        where = traceback.extract_tb(exc.__traceback__)[-1]
                        failures.append(f"{preset} {sampler} cfg={cfg} steps={steps}: {type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0][:160]} ({where.filename}:{where.lineno})")
                        print(failures[-1], flush=True)
    mode = "set_sync_debug_mode('error')" if device.type == "cuda" else "HostReadRecorder (no GPU)"
    print(f"torch {torch.__version__}, {device}, {mode}: {runs - len(failures)} of {runs} runs clean")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
