"""DPM-Solver++(2S) with ancestral noise: ``dpmpp_2s_ancestral`` (Lu et al. 2022b, Alg. 1)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import StepRows
from gdf_core.noise import randn_like
from gdf_core.tensors import as_dtype
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers.ancestral import AncestralSamplerBase, ancestral_split
from gdf_plugins.samplers.maths.combine import combine_rows, compute
from gdf_plugins.samplers.maths.levels import Levels, scaler_coeffs


class DPMPP2SAncestralSampler(AncestralSamplerBase):
    """DPM-Solver++(2S), single-step second order, with ancestral noise (Lu et al. 2022b, Alg. 1).

    Per step: the ancestral split (σ_down, σ_up) of ``euler_ancestral``; a
    first-order step to the midpoint η_s = η + h_d/2 of [η, η_down]; the
    model there; x_down = (σ_down/σ)·y + (1 − e^(−h_d))·x̂0(η_s) (times a′);
    then fresh noise b′·(σ_up/σ′)·s_noise·z. Two model calls per step; the
    last step is a single ancestral Euler step (x̂0 itself at λ′ = +∞).
    """

    name = "dpmpp_2s_ancestral"

    def coefficients(self, lv: Levels, scaler: InputScaler) -> Tensor:
        """[a′, b′·down, noise | λ_s | b_s/b, −a_s·expm1(−h_d/2) | (b′/b)·down, −a′·expm1(−h_d), noise]."""
        down, up = ancestral_split(lv.h, self.eta)
        h_d = lv.h - torch.log(down)  # η_down = η′ − log(σ_down/σ′)
        eta_s = lv.eta + h_d / 2
        a_s, b_s = scaler_coeffs(scaler, 2 * eta_s)
        c = [lv.a_next, lv.b_next * down, lv.b_next * up * self.s_noise, 2 * eta_s, b_s / lv.b,
             -a_s * torch.expm1(-h_d / 2), lv.b_ratio * down, -lv.a_next * torch.expm1(-h_d),
             lv.b_next * up * self.s_noise]
        return torch.stack(torch.broadcast_tensors(*c))

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> StepRows:
        return StepRows(self.coefficients(Levels(scaler, logsnrs[:-1], logsnrs[1:]), scaler).transpose(0, 1))

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, eps = denoise(x, logsnr)
        plan = state.plan
        c = plan[state.step] if plan is not None else self.coefficients(Levels(scaler, logsnr, logsnr_next), scaler)
        x0c, xc = compute(x0), compute(x)
        z = randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))
        if state.is_last_step:
            return as_dtype(combine_rows(c[:3], [x0c, compute(eps), z]), x.dtype)
        x_s = combine_rows(c[4:6], [xc, x0c])
        x0_s, _ = denoise(as_dtype(x_s, x.dtype), as_dtype(c[3], logsnr.dtype))
        return as_dtype(combine_rows(c[6:9], [xc, compute(x0_s), z]), x.dtype)


__all__ = ["DPMPP2SAncestralSampler"]
