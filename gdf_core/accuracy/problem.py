"""One accuracy problem: a recipe, an exact Gaussian-mixture model of it, start noise and the exact solution.

``OracleProblem`` runs any sampler through the public ``GDF.sample`` on any λ
grid (a ``tabulated`` schedule walked knot by knot) and measures the RMS error
of the final x against the probability-flow ODE solved to ~1e-12
(``gdf_core.testing.oracle.reference_solution``). The model is the mixture's
posterior mean written as the recipe's own target prediction, so the sampler
sees exactly what a perfectly trained model of that recipe returns; the
recipe's noise condition is replaced by λ itself (the oracle needs λ; the
noise condition never enters a sampler's arithmetic).

The default problem is the one of ``benchmarks/oracle_accuracy.py``: a VP
ε-model with Stable Diffusion's betas, grids over σ ∈ [0.0292, 14.61] then 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from gdf_core.gdf import GDF
from gdf_core.spec import load_spec
from gdf_core.testing.oracle import GaussianMixture, reference_solution, rms_error

#: Stable Diffusion's largest and smallest σ (scaled-linear betas 0.00085 … 0.012, 1000 steps).
SD_SIGMA_MAX = 14.614641790334824
SD_SIGMA_MIN = 0.029167532920837402


def oracle_model(mixture: GaussianMixture, gdf: GDF) -> Callable[..., Tensor]:
    """``model(x, λ)``: the mixture's posterior mean as ``gdf``'s target prediction, in float64.

    For a GDF whose noise condition is ``logsnr`` (λ itself); counts its calls in ``model.calls``.
    """
    scaler, target = gdf.input_scaler, gdf.target

    def model(x: Tensor, logsnr: Tensor) -> Tensor:
        model.calls += 1  # type: ignore[attr-defined]
        x64 = x.to(torch.float64)
        lam = torch.as_tensor(logsnr, dtype=torch.float64).expand(x.shape[0])
        a, b = (v.to(torch.float64) for v in scaler(lam))
        view = (-1,) + (1,) * (x.dim() - 1)
        av, bv = a.view(view), b.view(view)
        x0 = mixture.posterior_mean(x64, a, b)
        safe_b = torch.where(bv == 0, torch.ones_like(bv), bv)
        eps = torch.where(bv == 0, torch.zeros_like(x64), (x64 - av * x0) / safe_b)
        return target(x0, eps, lam.view(view), av, bv).to(x.dtype)

    model.calls = 0  # type: ignore[attr-defined]
    return model


def with_logsnr_condition(spec: Any) -> GDF:
    """The recipe of ``spec`` with its noise condition replaced by λ itself (what the oracle reads)."""
    data = dict(load_spec(spec))
    data["noise_cond"] = "logsnr"
    return GDF.from_spec(data)


@dataclass
class Run:
    """One sampler run: model calls used, RMS error to the exact solution, the final x."""

    nfe: int
    error: float
    x: Tensor = field(repr=False)


class OracleProblem:
    """A recipe, a Gaussian mixture, start noise at ``sigma_max`` and the exact solution to clean data.

    ``spec`` gives the input scaler and the target (default: VP ε); the run goes
    from λ = −2·log ``sigma_max`` to λ = +∞, from ``x_start`` = √(a² + b²)·ε
    (seed ``seed + 1``), as ``benchmarks/oracle_accuracy.py`` starts.
    """

    def __init__(
        self,
        spec: Any = None,
        *,
        dim: int = 64,
        components: int = 8,
        samples: int = 128,
        seed: int = 0,
        spread: float = 0.25,
        stds: tuple[float, float] = (0.2, 0.6),
        sigma_max: float = SD_SIGMA_MAX,
        sigma_min: float = SD_SIGMA_MIN,
    ) -> None:
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got ({sigma_min}, {sigma_max})")
        self.spec = "ddpm" if spec is None else spec
        self.gdf = with_logsnr_condition(self.spec)
        self.dim, self.components, self.samples, self.seed = dim, components, samples, seed
        self.sigma_max, self.sigma_min = float(sigma_max), float(sigma_min)
        self.mixture = GaussianMixture.random(dim=dim, components=components, seed=seed, spread=spread, std_range=stds)
        self.logsnr_start = -2 * math.log(self.sigma_max)
        self.x_start = self.noise(samples, seed + 1)
        t0 = time.perf_counter()
        self.reference = self.solution(self.x_start)
        self.reference_seconds = time.perf_counter() - t0

    def noise(self, samples: int, seed: int) -> Tensor:
        """x at the start level: √(a² + b²)·ε (float64; for VP exactly the benchmark's standard normal start)."""
        g = torch.Generator().manual_seed(seed)
        eps = torch.randn(samples, self.dim, generator=g, dtype=torch.float64)
        a, b = (float(v) for v in self.gdf.input_scaler(torch.tensor([self.logsnr_start], dtype=torch.float64)))
        return math.sqrt(a * a + b * b) * eps

    def solution(self, x_start: Tensor) -> Tensor:
        """The exact probability-flow ODE solution from ``x_start`` to clean data."""
        return reference_solution(self.mixture, x_start, self.logsnr_start, math.inf, self.gdf.input_scaler)

    def model(self) -> Callable[..., Tensor]:
        """A fresh oracle ``model(x, λ)`` of the recipe (call counter at 0)."""
        return oracle_model(self.mixture, self.gdf)

    def run(self, sampler: Any, logsnrs: Sequence[float] | Tensor, *, x_start: Optional[Tensor] = None,
            reference: Optional[Tensor] = None) -> Run:
        """``sampler`` (a name, spec or instance) over the grid ``logsnrs`` (noise → data) via ``GDF.sample``."""
        x = self.x_start if x_start is None else x_start
        ref = self.reference if reference is None else reference
        final = sample_on_grid(self.gdf, self.model(), sampler, logsnrs, x)
        return Run(nfe=final[1], error=rms_error(final[0], ref), x=final[0])


def sample_on_grid(gdf: GDF, model: Callable[..., Tensor], sampler: Any, logsnrs: Sequence[float] | Tensor,
                   x_init: Tensor, model_inputs: Optional[dict[str, Any]] = None) -> tuple[Tensor, int]:
    """(final x, model calls) of ``gdf.sample`` with ``sampler`` walking exactly the λ knots ``logsnrs``."""
    from gdf_plugins.schedules.tabulated import TabulatedSchedule

    knots = [float(v) for v in (logsnrs.tolist() if isinstance(logsnrs, Tensor) else logsnrs)]
    schedule = TabulatedSchedule(logsnrs=knots)
    calls = [0]

    def counted(x: Tensor, cond: Tensor, **inputs: Any) -> Tensor:
        calls[0] += 1
        return model(x, cond, **inputs)

    x = x_init
    for _, x, _ in gdf.sample(counted, model_inputs or {}, tuple(x_init.shape), sampler=sampler, schedule=schedule,
                              timesteps=len(knots) - 1, x_init=x_init, cfg=None):
        pass
    return x, calls[0]


__all__ = ["OracleProblem", "Run", "SD_SIGMA_MAX", "SD_SIGMA_MIN", "oracle_model", "sample_on_grid", "with_logsnr_condition"]
