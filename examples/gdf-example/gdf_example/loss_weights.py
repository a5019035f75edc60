"""The logit-normal density as a loss weight."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

from gdf_core import LossWeightBase
from gdf_core.domains import Finite, Positive

#: |logit t| beyond which the density is 0 in float64; keeps λ = ±∞ finite.
_LOGIT_MAX = 1e4


class LogitNormalDensityWeight(LossWeightBase):
    """w(λ) = π(t), the logit-normal density at t = sigmoid(−λ/2), for uniform-t training.

    Drawing t from π and weighting a uniform draw by π(t) give the same
    expected loss (Esser et al. 2024, §3.1, on the rectified-flow target).
    With u = logit(t) = −λ/2:
    π = exp(−(u − mu)²/(2·std²)) / (std·√(2π)·t·(1 − t)), in log space,
    where −log(t·(1 − t)) = softplus(u) + softplus(−u).
    """

    name = "logit_normal_density"

    def __init__(self, mu: Finite = 0.0, std: Positive = 1.0, **kwargs) -> None:
        self.mu = mu
        self.std = std
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        u = (-logsnr / 2).clamp(-_LOGIT_MAX, _LOGIT_MAX)
        log_density = (
            -((u - self.mu) ** 2) / (2 * self.std**2)
            - math.log(self.std * math.sqrt(2 * math.pi))
            + softplus(u)
            + softplus(-u)
        )
        return torch.exp(log_density)
