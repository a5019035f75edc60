"""Peak memory of a whole ``sample`` run against a hand-written loop, in latents.

    python benchmarks/peak_memory.py

Each run is a fresh subprocess; its peak resident memory during the run
(``resource.getrusage(...).ru_maxrss`` after the run minus before it, with
glibc's mmap threshold fixed at 64 KiB so that every latent is mapped and
unmapped on its own; the
latent and the model allocated beforehand, and the same run made once on a
batch of 2 first, so that the code it touches is not counted) is divided by the size of one
latent, (16, 4, 128, 128) float32 = 4 MiB (large allocations are mmap-ed and
returned at once, so resident memory follows the live tensors). The
hand-written loops keep what the method needs: DDIM nothing, DPM++(2M) one
previous x̂0. ``gdf`` is ``for _, x, _ in GDF.sample(...)``: its loop variable
holds the last yielded prediction through the next step, one latent the
caller keeps (with cfg, the guided prediction is a latent of its own).
``dropped`` is the same loop deleting the yielded x̂0 and prediction, which
is the generator's own peak; ``final`` calls ``GDF.sample_final``. A trivial
model (ε̂ = 0.1·x), 10 steps, no cfg and with cfg.

    python benchmarks/peak_memory.py --samplers dpmpp_3m,unipc --cfg off

measures other samplers too (gdf's columns only: the hand-written loops are DDIM and DPM++(2M)).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

SHAPE = (16, 4, 128, 128)
HERE = Path(__file__).resolve().parent

CHILD = r'''
import json, math, resource, sys
sys.path.insert(0, {here!r})
import torch
from _setup import ROOT  # noqa: F401
from gdf_core import GDF
torch.set_num_threads(1)
what, cfg = sys.argv[1], (None if sys.argv[2] == "off" else 3.0)
gdf = GDF.from_spec("stable_cascade")
shape = {shape!r}
x_init = torch.randn(shape)
model = lambda x, c: 0.1 * x
lam = gdf.schedule(torch.linspace(1, 0, 11, dtype=torch.float64))
a = torch.sigmoid(lam).sqrt().tolist(); b = torch.sigmoid(-lam).sqrt().tolist()
def eps_of(x):
    if cfg is None:
        return model(x, None)
    c, u = model(torch.cat([x, x]), None).chunk(2)
    return u.lerp(c, cfg)
def hand(name, x_init):
    x, prev = x_init, None
    for i in range(10):
        eps = eps_of(x)
        x0 = (x - b[i] * eps) / a[i]
        if name == "ddim":
            x = a[i + 1] * x0 + b[i + 1] * eps
        else:
            h = (lam[i + 1] - lam[i]).item() / 2
            d = x0 if prev is None else 1.5 * x0 - 0.5 * prev
            x = (b[i + 1] / b[i]) * x + a[i + 1] * (-math.expm1(-h)) * d
            prev = x0
    return x
def ours(name, x_init):
    for _, x, _ in gdf.sample(model, {{}}, x_init.shape, sampler=name, timesteps=10, x_init=x_init, cfg=cfg, cfg_rho=0.0):
        pass
    return x
def ours_dropping(name, x_init):
    for x0, x, pred in gdf.sample(model, {{}}, x_init.shape, sampler=name, timesteps=10, x_init=x_init, cfg=cfg, cfg_rho=0.0):
        del x0, pred  # what a loop that keeps only x holds: nothing of the step's x̂0 and prediction
    return x
def final(name, x_init):
    return gdf.sample_final(model, {{}}, x_init.shape, sampler=name, timesteps=10, x_init=x_init, cfg=cfg, cfg_rho=0.0)
who, name = what.split()
run = {{"hand": hand, "gdf": ours, "dropped": ours_dropping, "final": final}}[who]
run(name, torch.randn(2, *shape[1:]))  # the same run on a small batch first: code pages and caches are not counted
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = run(name, x_init)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"what": what, "cfg": sys.argv[2], "peak_kib": after - before}}))
'''


#: The samplers with a hand-written loop in ``CHILD``.
HAND = ("ddim", "dpmpp_2m")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samplers", default=",".join(HAND))
    parser.add_argument("--cfg", default="off,on", help="off, on or both (off,on)")
    args = parser.parse_args()
    latent_kib = 4 * 16 * 4 * 128 * 128 / 1024
    code = CHILD.format(here=str(HERE), shape=SHAPE)
    rows = []
    nan = float("nan")
    for cfg in args.cfg.split(","):
        for name in args.samplers.split(","):
            pair = {}
            for who in ("hand", "gdf", "dropped", "final"):
                if who == "hand" and name not in HAND:
                    pair[who] = nan
                    continue
                env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}  # fixed: every latent mmap-ed, unmapped when freed
                out = subprocess.run([sys.executable, "-c", code, f"{who} {name}", cfg], capture_output=True, text=True, check=True, env=env)
                pair[who] = json.loads(out.stdout.strip().splitlines()[-1])["peak_kib"] / latent_kib
            rows.append({"sampler": name, "cfg": cfg, **pair, "extra": pair["gdf"] - pair["hand"],
                         "extra_dropped": pair["dropped"] - pair["hand"], "extra_final": pair["final"] - pair["hand"]})
    print(f"peak resident memory during a 10-step run, in latents of {SHAPE} float32 (4 MiB)")
    print("gdf: `for _, x, _ in GDF.sample(...)` (the loop variable holds the last yielded prediction);")
    print("dropped: the same loop deleting the yielded x̂0 and prediction; final: GDF.sample_final")
    print(f"{'run':20s} {'hand':>6s} {'gdf':>6s} {'dropped':>8s} {'final':>6s} {'gdf − hand':>11s} {'dropped − hand':>15s} {'final − hand':>13s}")
    def cell(value: float, width: int) -> str:
        return f"{'–':>{width}s}" if math.isnan(value) else f"{value:{width}.2f}"  # NaN: no hand-written loop

    for r in rows:
        print(f"{r['sampler'] + ' cfg=' + r['cfg']:20s} {cell(r['hand'], 6)} {cell(r['gdf'], 6)} {cell(r['dropped'], 8)} "
              f"{cell(r['final'], 6)} {cell(r['extra'], 11)} {cell(r['extra_dropped'], 15)} {cell(r['extra_final'], 13)}")


if __name__ == "__main__":
    main()
