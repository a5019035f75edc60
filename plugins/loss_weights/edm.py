"""EDM's loss weighting λ(σ) (Karras et al. 2022, Table 1), target-aware."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import LossWeightBase


class EDMLossWeight(LossWeightBase):
    """w = (σ² + σ_d²)/(σ·σ_d)² = e^λ + 1/σ_d² on the x0 (denoiser D) loss, σ² = e^(−λ).

    ``reference_target = "x0"``: converted to the chosen target's units by
    ``GDF.diffuse``, it is 1 for the ``edm`` target of the same ``sigma_data``
    (λ(σ)·c_out² = 1, the "effective weight" of EDM) and (with σ_d = 1, ``vp``)
    1 for ``v``; in ε-MSE units it is (σ² + σ_d²)/σ_d².
    """

    name = "edm"
    reference_target: ClassVar[str] = "x0"

    def __init__(self, sigma_data: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.5, **kwargs) -> None:
        if not (math.isfinite(sigma_data) and sigma_data > 0):
            raise ValueError(f"loss_weight 'edm': sigma_data must be finite and > 0, got {sigma_data}")
        self.sigma_data = float(sigma_data)
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(logsnr) + 1 / self.sigma_data**2


__all__ = ["EDMLossWeight"]
