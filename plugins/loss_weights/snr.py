"""Loss weights that are closed-form functions of λ (the SNR is e^λ)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gdf_core.bases import LossWeightBase
from gdf_core.domains import Finite, NonNegative, NonZero, Positive


class ConstantLossWeight(LossWeightBase):
    """w = v for every λ."""

    name = "constant"

    def __init__(self, v: NonNegative = 1, **kwargs) -> None:
        self.v = v
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.full_like(logsnr, float(self.v))


class SNRLossWeight(LossWeightBase):
    """w = SNR = e^λ: an ε-prediction loss weighted by it is the x0-prediction loss."""

    name = "snr"

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(logsnr)


class P2LossWeight(LossWeightBase):
    """w = (k + e^(s·λ))^(−gamma), perception-prioritized weighting (Choi et al. 2022).

    Evaluated as exp(−gamma·logaddexp(log k, s·λ)), which does not overflow at large λ.
    """

    name = "p2"

    def __init__(self, k: NonNegative = 1.0, gamma: Finite = 1.0, s: Finite = 1.0, **kwargs) -> None:
        self.k = k
        self.gamma = gamma
        self.s = s
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        log_k = torch.full_like(logsnr, math.log(self.k) if self.k > 0 else -math.inf)
        return torch.exp(-self.gamma * torch.logaddexp(log_k, self.s * logsnr))


class SNRPlusOneLossWeight(LossWeightBase):
    """w = SNR + 1 = e^λ + 1 (the weight that turns an ε loss into a v loss, Salimans & Ho 2022)."""

    name = "snr_plus_one"

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(logsnr) + 1


class MinSNRLossWeight(LossWeightBase):
    """w = min(e^λ, max_snr), the original GDF's weight, multiplying the loss of whatever target is chosen.

    Hang et al. 2023's Min-SNR-γ weighting only for an x0 loss: with an ε loss
    their weight is min(SNR, γ)/SNR, with a v loss min(SNR, γ)/(SNR + 1). For the
    paper's objective under any target use ``min_snr_gamma``, which converts.
    """

    name = "min_snr"

    def __init__(self, max_snr: Positive = 5, **kwargs) -> None:
        self.max_snr = max_snr
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(logsnr).clamp(max=self.max_snr)


class MinSNRPlusOneLossWeight(LossWeightBase):
    """w = min(e^λ + 1, max_snr), the original GDF's weight, multiplying the loss of whatever target is chosen.

    Not Hang et al. 2023's weight for v-prediction, which is min(SNR, γ)/(SNR + 1)
    (the same confusion as diffusers' #5654, fixed in their PR #6307). Kept for
    parity with the original; ``min_snr_gamma`` is the paper's weighting for every target.
    """

    name = "min_snr_plus_one"

    def __init__(self, max_snr: Positive = 5, **kwargs) -> None:
        self.max_snr = max_snr
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return (torch.exp(logsnr) + 1).clamp(max=self.max_snr)


class TruncatedSNRLossWeight(LossWeightBase):
    """w = max(e^λ, min_snr), truncated SNR weighting (Salimans & Ho 2022)."""

    name = "truncated_snr"

    def __init__(self, min_snr: NonNegative = 1, **kwargs) -> None:
        self.min_snr = min_snr
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(logsnr).clamp(min=self.min_snr)


class SechLossWeight(LossWeightBase):
    """w = sech(λ/div) = 1/cosh(λ/div), written as 2·e^(−|x|)/(1 + e^(−2|x|)) so it never overflows."""

    name = "sech"

    def __init__(self, div: NonZero = 2, **kwargs) -> None:
        self.div = div
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        decay = torch.exp(-(logsnr / self.div).abs())
        return 2 * decay / (1 + decay * decay)


class DebiasedLossWeight(LossWeightBase):
    """w = e^(−λ/2) = 1/√SNR, debiased estimation loss (Yu et al. 2024)."""

    name = "debiased"

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.exp(-logsnr / 2)


class SigmoidLossWeight(LossWeightBase):
    """w = σ(s·λ), a sigmoid weighting of λ (Kingma & Gao 2023)."""

    name = "sigmoid"

    def __init__(self, s: Finite = 1, **kwargs) -> None:
        self.s = s
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.sigmoid(self.s * logsnr)
