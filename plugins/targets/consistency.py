"""The consistency-model boundary condition as a target (Song et al. 2023, "Consistency Models", §3;
Luo et al. 2023, "Latent Consistency Models", eq. 9).

A consistency function f(x, t) = c_skip(t)·x + c_out(t)·x̂0(pred) gives x back at the
boundary t = 0 (c_skip = 1, c_out = 0) by construction. In LCM's form, with
c = ``timestep_scaling``·t:

    c_skip = σ_d²/(c² + σ_d²),   c_out = c/√(c² + σ_d²),

x̂0(pred) the clean-data estimate of the base ``prediction`` (ε, v or x0), x the
model's noisy input itself (LCM applies c_skip to the variance-preserving sample)
and t the nested noise condition ``time``: the integer training timestep for LCM
(``diffusers_timestep`` with rounding), σ for Song et al.'s VE models (``edm_sigma``).
A boundary condition rather than a sampler option, because it is part of the model's
parameterisation: training (the target a model is fitted to) and every sampler see
the same consistency function.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import TargetBase
from gdf_core.domains import Positive
from gdf_core.protocols import NoiseCond, Target
from gdf_core.tensors import result_dtype


class ConsistencyTarget(TargetBase):
    """x̂0 = c_skip·x + c_out·prediction.x0(x, pred), c_skip, c_out of c = timestep_scaling·time(λ) (see the module).

    ε = (x − a·x̂0)/b. The training target inverts the same map: pred = prediction(x0′, ε′) with
    x0′ = (x0 − c_skip·x)/c_out, which needs c_out > 0 (a time > 0: at t = 0 f is the identity).
    Defaults: ``prediction`` ε, ``time`` σ (``edm_sigma``, Song et al.'s time; LCM's is the timestep).
    """

    name = "consistency"

    def __init__(
        self,
        prediction: Optional[Target] = None,
        time: Optional[NoiseCond] = None,
        sigma_data: Positive = 0.5,
        timestep_scaling: Positive = 10.0,
    ) -> None:
        from gdf_core import registry

        self.prediction = registry.get("target", "epsilon")() if prediction is None else prediction
        self.time = registry.get("noise_cond", "edm_sigma")() if time is None else time
        self.sigma_data = float(sigma_data)
        self.timestep_scaling = float(timestep_scaling)

    def coefficients(self, logsnr: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(c_skip, c_out) at λ, viewed to broadcast against ``like`` (float64 when it is, float32 at least)."""
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        c = self.time(logsnr).to(torch.float64) * self.timestep_scaling
        sd2 = self.sigma_data**2
        c_skip, c_out = sd2 / (c * c + sd2), c / torch.sqrt(c * c + sd2)
        if c_skip.dim() == 1 and like.dim() > 1:
            c_skip, c_out = (v.view(-1, *([1] * (like.dim() - 1))) for v in (c_skip, c_out))
        return c_skip.to(dtype), c_out.to(dtype)

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        c_skip, c_out = self.coefficients(logsnr, x0)
        x0c, ec, ac, bc = (v.to(c_skip.dtype) for v in (x0, epsilon, a, b))
        x = ac * x0c + bc * ec
        base_x0 = (x0c - c_skip * x) / c_out
        base_eps = (x - ac * base_x0) / bc
        return self.prediction(base_x0, base_eps, logsnr, ac, bc).to(result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        c_skip, c_out = self.coefficients(logsnr, x)
        xc = x.to(c_skip.dtype)
        base = self.prediction.x0(xc, pred.to(c_skip.dtype), logsnr, a.to(c_skip.dtype), b.to(c_skip.dtype))
        return (c_skip * xc + c_out * base).to(result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        x0 = self.x0(x, pred, logsnr, a, b)
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        xc, x0c, ac, bc = (v.to(dtype) for v in (x, x0, a, b))
        return ((xc - ac * x0c) / bc).to(result_dtype(x))


__all__ = ["ConsistencyTarget"]
