"""Every forward run of every built-in sampler on every preset, saved, to compare two commits bit for bit.

    git checkout A && python benchmarks/forward_runs.py --out /tmp/a.pt
    git checkout B && python benchmarks/forward_runs.py --out /tmp/b.pt
    python benchmarks/forward_runs.py --compare /tmp/a.pt /tmp/b.pt

Each preset's own sample schedule (``{"preset": p, "sampler": None}``), the
convergence tests' model (``tests/convergence.denoiser_shaped_model``), 1, 3
and 12 steps, whole runs (t = 1 → 0) and img2img ones (0.6 → 0), a fixed
start and generator: 1026 runs. ``--compare`` counts the runs that are not
``torch.equal`` (an error message counts as a value).
"""

from __future__ import annotations

import argparse
import sys

import torch

from _setup import ROOT  # noqa: E402  (puts gdf on the path)

sys.path.insert(0, str(ROOT / "tests"))
from convergence import denoiser_shaped_model  # noqa: E402
from gdf_core import GDF, registry  # noqa: E402
from gdf_plugins.presets import PRESETS  # noqa: E402


def runs() -> dict:
    out: dict = {}
    torch.set_num_threads(1)
    for preset in sorted(PRESETS):
        gdf = GDF.from_spec({"preset": preset, "sampler": None})
        model = denoiser_shaped_model(gdf)
        x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        for sampler in registry.builtin_names("sampler"):
            for steps in (1, 3, 12):
                for t_start, t_end in ((1.0, 0.0), (0.6, 0.0)):
                    try:
                        value = gdf.sample_final(model, {}, x.shape, sampler=sampler, timesteps=steps, cfg=None, x_init=x,
                                                 t_start=t_start, t_end=t_end, generator=torch.Generator().manual_seed(1))
                    except Exception as exc:  # recorded, so that a new error is a difference too
                        value = f"{type(exc).__name__}: {exc}"
                    out[(preset, sampler, steps, t_start, t_end)] = value
    return out


def same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.equal(a, b)
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="save this checkout's runs here")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two saved files")
    args = parser.parse_args()
    if args.compare:
        a, b = (torch.load(path, weights_only=False) for path in args.compare)
        differ = [key for key in a if key not in b or not same(a[key], b[key])]
        print(f"{len(a)} runs, {len(differ)} differ" + (f": {differ[:10]}" if differ else ""))
        return
    if not args.out:
        parser.error("give --out or --compare")
    results = runs()
    torch.save(results, args.out)
    print(f"{len(results)} runs saved to {args.out}")


if __name__ == "__main__":
    main()
