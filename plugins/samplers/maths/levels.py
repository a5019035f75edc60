"""The levels of a step λ → λ′ (or of every step of a grid at once), and when two levels are one.

η = λ/2 is clamped from below at ``ETA_FLOOR`` for coefficient maths: λ = −∞
(pure noise, a = 0) then acts as a far level (σ ≈ 2·10¹⁷, an e^(−40) change).
A step's start keeps the true (a, b) of the scaler (x at λ = −∞ is pure noise);
its destination's (a′, b′) are the scaler's at the floor, consistent with σ′
(a′·σ′ = b′), so a step into λ′ = −∞ (an inversion's last) keeps the
a·b′/b·x̂0 part of x′ that a′ = 0 against σ′ = e^40 would drop. λ′ = +∞ (clean
data, b′ = 0) is kept: ``final`` marks it. All coefficients are float64
(float32 on devices without it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.integrate import LEVEL_TOLERANCE
from gdf_core.protocols import InputScaler
from gdf_core.tensors import as_dtype

#: η = λ/2 is clamped from below here for coefficient maths (λ = −80, σ ≈ 2.4e17).
ETA_FLOOR = -40.0
#: ``LEVEL_TOLERANCE`` (gdf_core.integrate): two levels whose η differ by at most this are one
#: level: a step between them is a no-op and the older of two such history levels is dropped
#: from an interpolation. The loop makes them exact repeats; a step driven by hand may not.


def coeff_dtype(t: Tensor) -> torch.dtype:
    """float64 for coefficients, unless the device has no float64 (MPS)."""
    return torch.float32 if t.device.type == "mps" else torch.float64


def half_logsnr(logsnr: Tensor) -> Tensor:
    """η = λ/2 in the coefficient dtype, clamped from below at ``ETA_FLOOR`` (+∞ is kept)."""
    return (as_dtype(logsnr, coeff_dtype(logsnr)) / 2).clamp(min=ETA_FLOOR)


def same_level(eta: Tensor, other: Tensor) -> Tensor:
    """Boolean: the two levels are one (|η − η′| ≤ ``LEVEL_TOLERANCE``, or both +∞)."""
    return (eta == other) | ((eta - other).abs() <= LEVEL_TOLERANCE)


def distinct_from_newer(etas: list[Tensor]) -> list[Tensor]:
    """active[k]: level k (newest first) is not one with any newer level, so it is a node."""
    return [torch.ones_like(etas[0], dtype=torch.bool)] + [
        ~torch.stack([same_level(etas[k], etas[m]) for m in range(k)]).any(0) for k in range(1, len(etas))
    ]


def scaler_coeffs(scaler: InputScaler, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) at λ in the coefficient dtype."""
    dtype = coeff_dtype(logsnr)
    a, b = scaler(logsnr.to(dtype))
    return a.to(dtype), b.to(dtype)


def ratio(num: Tensor, den: Tensor) -> Tensor:
    """num/den, with 0 where num is 0 (so b′/b = 0 at λ′ = +∞ even if b were 0)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(num == 0, torch.zeros_like(num), num / safe)


class Levels:
    """The coefficients of one step λ → λ′ (or of all steps, on (steps, batch) tensors).

    ``eta``/``eta_next`` (η = λ/2, floored), ``h`` = η′ − η, ``a, b, a_next, b_next``
    from the scaler, ``b_ratio`` = b′/b, ``sigma``/``sigma_next`` = e^(−η) (σ′ = 0
    at λ′ = +∞), ``final`` (λ′ = +∞) and ``degenerate`` (λ′ and λ are one level:
    the step is a no-op). Every operation is elementwise.
    """

    def __init__(self, scaler: InputScaler, logsnr: Tensor, logsnr_next: Tensor) -> None:
        self.logsnr = logsnr.to(coeff_dtype(logsnr))
        self.eta = half_logsnr(logsnr)
        self.eta_next = half_logsnr(logsnr_next)
        self.degenerate = same_level(self.eta, self.eta_next)
        self.h = torch.where(self.degenerate, torch.zeros_like(self.eta), self.eta_next - self.eta)
        self.final = torch.isposinf(self.eta_next) & ~self.degenerate
        self.a, self.b = scaler_coeffs(scaler, logsnr)
        self.a_next, self.b_next = scaler_coeffs(scaler, 2 * self.eta_next)
        self.b_ratio = ratio(self.b_next, self.b)
        self.sigma = torch.exp(-self.eta)
        self.sigma_next = torch.exp(-self.eta_next)

    def part(self, index: int | slice) -> "Levels":
        """The levels of the steps ``index`` of these (a row or a range of a grid's), without the scaler again."""
        out = object.__new__(Levels)
        for name, value in vars(self).items():
            setattr(out, name, value[index])
        return out

    def safe_h(self) -> Tensor:
        """h where the step has a length, 1 where it has none (degenerate or into λ′ = +∞)."""
        return torch.where(self.degenerate | self.final, torch.ones_like(self.h), self.h)
