"""Classifier-free guidance (Ho & Salimans 2022), with guidance rescale (Lin et al. 2024)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases.guidance import GuidanceBase, Scale, scale_at
from gdf_core.guidance import Predictions


def sample_std(x: Tensor) -> Tensor:
    """Each sample's standard deviation (Bessel-corrected), shaped (B, 1, ...) to broadcast against x.

    Two passes (the mean, then the norm of the deviations): as exact as
    ``torch.std`` and about ten times faster on CPU, where ``std`` over
    several dimensions is a slow Welford loop.
    """
    flat = x.flatten(1)
    centred = flat - flat.mean(dim=1, keepdim=True)
    std = torch.linalg.vector_norm(centred, dim=1) / math.sqrt(flat.shape[1] - 1)
    return std.view(-1, *([1] * (x.dim() - 1)))


def rescale_std(guided: Tensor, conditional: Tensor, rho: float) -> Tensor:
    """guided·(ρ·std(cond)/std(guided) + 1 − ρ), each sample's std over its own values.

    Lin et al. 2024 ("Common diffusion noise schedules and sample steps are
    flawed", §3.4): ρ·rescaled + (1 − ρ)·guided, as the original GDF's
    ``cfg_rho`` computes it (Bessel's correction, 1e-9 added to the
    denominator) but per sample: the original took one std over the whole
    batch. A sample of a single value (x of shape (B,) or (B, 1)) has no
    spread to match and is left unchanged.
    """
    if guided.dim() < 2 or guided[0].numel() < 2:
        return guided
    return guided * (sample_std(conditional) / (sample_std(guided) + 1e-9) * rho + (1 - rho))


class CFG(GuidanceBase):
    """guided = u + w·(c − u) = lerp(u, c, w), in the model's own prediction space.

    Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion
    Guidance"): c and u are the conditional and unconditional predictions;
    w = ``scale`` (w = 1 is the conditional model, w = 0 the unconditional
    one), or a pair (w at t = 1, w at t = 0) interpolated in t. ``rescale`` = ρ
    > 0 then matches each sample's std to the conditional one's (Lin et al.
    2024), against the over-exposure of high w. ``interval`` applies it only for
    t in [t_lo, t_hi] (Kynkäänniemi et al. 2024). The original GDF's
    ``cfg``, ``cfg_rho``, ``cfg_t_stop`` and ``cfg_t_start`` are ``scale``,
    ``rescale`` and ``interval = (cfg_t_stop, cfg_t_start)``.
    """

    name = "cfg"
    space = "pred"
    branches = ("unconditional",)
    neutral = {"scale": 1.0, "rescale": 0.0}

    def __init__(
        self,
        scale: Scale = 3.0,
        rescale: Annotated[float, Field(ge=0.0, le=1.0, strict=True)] = 0.0,
        **kwargs: Any,
    ) -> None:
        self.scale = scale
        self.rescale = rescale
        super().__init__(**kwargs)

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        cond, uncond = predictions.conditional, predictions.unconditional
        guided = torch.lerp(uncond, cond, scale_at(self.scale, t))
        if self.rescale > 0:
            guided = rescale_std(guided, cond, self.rescale)
        return guided
