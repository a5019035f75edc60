"""Min-SNR-γ weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"), target-aware."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import LossWeightBase


class MinSNRGammaLossWeight(LossWeightBase):
    """w = min(SNR, gamma) on the x0 loss (Hang et al. 2023, eq. 7), converted to the chosen target's units.

    ``reference_target = "x0"``: ``GDF.diffuse`` turns the weight into the chosen
    target's units (``gdf_core.loss_units``), which gives the paper's weights for
    each target: min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR + 1) for v under ``vp``,
    min(SNR, γ) for x0, and min(SNR, γ)·SNR^(−1)/(1 + SNR^(−1/2))² for the
    rectified-flow velocity. Called on its own it returns the x0-unit weight.
    Contrast ``min_snr``, the original's min(SNR, max_snr) applied to whatever target is chosen.
    """

    name = "min_snr_gamma"
    reference_target: ClassVar[str] = "x0"

    def __init__(self, gamma: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0, **kwargs) -> None:
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"loss_weight 'min_snr_gamma': gamma must be finite and > 0, got {gamma}")
        self.gamma = float(gamma)
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        # min(e^λ, γ) = exp(min(λ, ln γ)): never overflows
        return torch.exp(logsnr.clamp(max=math.log(self.gamma)))


__all__ = ["MinSNRGammaLossWeight"]
