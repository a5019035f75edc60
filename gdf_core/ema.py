"""EMA of model weights through torch's ``AveragedModel``: a constant decay, or EDM2's power-function profile.

``EMA(model, decay=0.999)`` is ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999),
use_buffers=True)``. ``EMA(model, sigma_rel=0.05)`` is the power-function EMA of
Karras et al. 2024 ("Analyzing and Improving the Training Dynamics of Diffusion
Models", §3.1): after t updates the average weighs update τ ∝ τ^γ, i.e. each update
lerps with β_t = (1 − 1/t)^(γ+1); γ follows from the relative std of the profile,
σ_rel² = (γ + 1)/((γ + 2)²·(γ + 3)) (their eq. 3). A ``DistributedDataParallel``
model is unwrapped: the average is of the module every rank holds.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` / ``DataParallel`` (the model itself otherwise)."""
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


def sigma_rel_to_gamma(sigma_rel: float) -> float:
    """γ of the power-function profile with relative std ``sigma_rel`` (EDM2 eq. 3, solved for γ > −1)."""
    if not (0 < sigma_rel < 1 / math.sqrt(6)):  # σ_rel → 1/√6 as γ → −1
        raise ValueError(f"sigma_rel must be in (0, 1/√6 ≈ 0.408), got {sigma_rel!r}")

    def rel(gamma: float) -> float:
        return math.sqrt((gamma + 1) / ((gamma + 2) ** 2 * (gamma + 3)))

    lo, hi = -1 + 1e-12, 1.0
    while rel(hi) > sigma_rel:  # rel decreases in γ
        hi *= 2
    for _ in range(200):  # bisection to machine precision
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rel(mid) > sigma_rel else (lo, mid)
    return (lo + hi) / 2


def power_ema_multi_avg_fn(gamma: float) -> Any:
    """A ``multi_avg_fn`` for ``AveragedModel``: lerp by 1 − β with β = (n/(n + 1))^(γ+1), n updates averaged so far."""

    @torch.no_grad()
    def update(averaged: Sequence[Tensor], current: Sequence[Tensor], num_averaged: Tensor | int) -> None:
        n = torch.as_tensor(num_averaged, dtype=torch.float64, device=averaged[0].device)
        weight = 1 - (n / (n + 1)) ** (gamma + 1)
        for avg, cur in zip(averaged, current):
            if avg.is_floating_point() or avg.is_complex():
                avg.lerp_(cur, weight.to(avg.dtype))
            else:
                avg.copy_(cur)

    return update


class EMA:
    """An exponential moving average of a model's parameters and buffers.

    Give ``decay`` (constant EMA) or ``sigma_rel`` (EDM2's power-function EMA); call
    ``update(model)`` after every optimiser step; ``module`` is the averaged copy to
    sample from. ``state_dict()`` holds the averaged weights and the update count.
    """

    def __init__(self, model: nn.Module, *, decay: Optional[float] = None, sigma_rel: Optional[float] = None, device: Any = None) -> None:
        if (decay is None) == (sigma_rel is None):
            raise ValueError("EMA: give exactly one of decay (a constant EMA) or sigma_rel (EDM2's power-function EMA)")
        if decay is not None:
            if not 0 <= decay <= 1:
                raise ValueError(f"EMA: decay must be in [0, 1], got {decay!r}")
            avg_fn = get_ema_multi_avg_fn(decay)
            self.gamma: Optional[float] = None
        else:
            assert sigma_rel is not None
            self.gamma = sigma_rel_to_gamma(sigma_rel)
            avg_fn = power_ema_multi_avg_fn(self.gamma)
        self.decay, self.sigma_rel = decay, sigma_rel
        self.averaged = AveragedModel(unwrap(model), device=device, multi_avg_fn=avg_fn, use_buffers=True)
        self.averaged.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        """The averaged model."""
        return self.averaged.module

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.averaged.update_parameters(unwrap(model))

    def state_dict(self) -> dict[str, Any]:
        return self.averaged.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.averaged.load_state_dict(state)


__all__ = ["EMA", "power_ema_multi_avg_fn", "sigma_rel_to_gamma", "unwrap"]
