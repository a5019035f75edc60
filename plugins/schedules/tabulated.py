"""A sampling schedule given as a table: λ at knots of t, interpolated monotonically in between.

A tuned grid (``gdf tune``, GITS/AYS) is a plain, shareable recipe this way::

    {"name": "tabulated", "logsnrs": [-5.37, -2.1, 0.4, 3.3, 7.0]}

``logsnrs`` runs from noise to data (λ increasing, the order a run walks it);
``ts`` are the matching t (falling from 1 to 0), evenly spaced by default, so
that ``GDF.sample(..., timesteps=len(logsnrs) - 1)`` (t = 1, (N−1)/N, …, 0)
lands exactly on the knots. The first value may be −∞ (pure noise) and the
last +∞ (clean data).

Between two finite knots λ is linear in t; on an interval with an infinite
end it is linear in t in sigmoid(λ) (towards −∞) or sigmoid(−λ) (towards +∞),
which reach 0 there, so that λ(t) is finite inside every interval and strictly
monotone: a run with other step counts interpolates the table without jumps.
"""

from __future__ import annotations

import math
from typing import Annotated, Optional

import torch
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from torch import Tensor

from gdf_core.bases import ScheduleBase


def _logsnr_knots(values: list[float]) -> list[float]:
    if any(math.isnan(v) for v in values):
        raise ValueError("λ values must not be NaN")
    if any(math.isinf(v) for v in values[1:-1]) or values[0] == math.inf or values[-1] == -math.inf:
        raise ValueError("only the first λ may be −inf and only the last +inf")
    if any(not b > a for a, b in zip(values, values[1:])):
        raise ValueError(f"λ values must increase strictly from noise to data, got {values}")
    return values


def _t_knots(values: Optional[list[float]]) -> Optional[list[float]]:
    if values is None:
        return None
    if any(not 0 <= v <= 1 for v in values):  # NaN fails this too
        raise ValueError(f"t values must lie in [0, 1], got {values}")
    if values[0] != 1 or values[-1] != 0:
        raise ValueError(f"t values must run from 1 (noise) to 0 (data), got {values}")
    if any(not b < a for a, b in zip(values, values[1:])):
        raise ValueError(f"t values must fall strictly, got {values}")
    return values


#: λ knots from noise to data: ≥ 2 values, strictly increasing, ±∞ only at the ends.
LogSNRKnots = Annotated[
    list[float], Field(min_length=2), AfterValidator(_logsnr_knots)
]
#: t knots matching them: from 1 to 0, strictly falling.
TKnots = Annotated[Optional[list[float]], AfterValidator(_t_knots)]

_KNOTS = TypeAdapter(LogSNRKnots)
_TS = TypeAdapter(TKnots)


def _validated(adapter: TypeAdapter, value: object, what: str) -> object:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ValueError(f"schedule 'tabulated': {what}: {problems}") from None


class TabulatedSchedule(ScheduleBase):
    """λ(t) from a table of knots (a tuned grid), interpolated monotonically between them.

    ``logsnrs``: λ from noise to data (≥ 2 values, strictly increasing, −∞ first
    and +∞ last allowed); ``ts``: the t of each knot (1 → 0, strictly falling;
    default evenly spaced, so ``timesteps = len(logsnrs) − 1`` hits the knots).
    """

    name = "tabulated"
    example_spec = {"logsnrs": [-5.4, -2.0, 1.0, 4.0, 8.0, math.inf]}

    def __init__(self, logsnrs: LogSNRKnots, ts: TKnots = None, *, force_limits: bool = False, **kwargs) -> None:
        self.logsnrs = [float(v) for v in _validated(_KNOTS, logsnrs, "logsnrs")]  # type: ignore[union-attr]
        checked_ts = _validated(_TS, ts, "ts")
        self.ts = None if checked_ts is None else [float(v) for v in checked_ts]  # type: ignore[union-attr]
        if self.ts is not None and len(self.ts) != len(self.logsnrs):
            raise ValueError(
                f"schedule 'tabulated': ts has {len(self.ts)} values but logsnrs has {len(self.logsnrs)}"
            )
        n = len(self.logsnrs)
        # Knots in the order of increasing t (data first), float64.
        t = torch.tensor(self.ts, dtype=torch.float64) if self.ts is not None else torch.linspace(1, 0, n, dtype=torch.float64)
        self._t = t.flip(0)
        self._lam = torch.tensor(self.logsnrs, dtype=torch.float64).flip(0)
        super().__init__(force_limits=force_limits, **kwargs)

    @property
    def infinite_ends(self) -> bool:
        """λ may be +∞ at t = 0 and −∞ at t = 1 (read by the invariant checks of gdf_core.testing)."""
        return math.isinf(self.logsnrs[0]) or math.isinf(self.logsnrs[-1])

    def logsnr(self, t: Tensor) -> Tensor:
        tt = t.to(torch.float64).clamp(0, 1)
        n = self._t.shape[0]
        hi = torch.searchsorted(self._t, tt.contiguous(), right=True).clamp(1, n - 1)
        lo = hi - 1
        t0, t1 = self._t[lo], self._t[hi]
        l0, l1 = self._lam[lo], self._lam[hi]  # l0 > l1 (λ falls with t)
        w = ((tt - t0) / (t1 - t0)).clamp(0, 1)
        linear = l0 + w * (l1 - l0)
        # towards +∞ at the data end: q = sigmoid(−λ) linear in t, q(t0) = 0
        q = torch.sigmoid(-l0) + w * (torch.sigmoid(-l1) - torch.sigmoid(-l0))
        to_data = torch.log1p(-q) - torch.log(q)
        # towards −∞ at the noise end: p = sigmoid(λ) linear in t, p(t1) = 0
        p = torch.sigmoid(l0) + w * (torch.sigmoid(l1) - torch.sigmoid(l0))
        to_noise = torch.log(p) - torch.log1p(-p)
        lam = torch.where(torch.isinf(l1), to_noise, torch.where(torch.isinf(l0), to_data, linear))
        # exact values at the knots (no rounding through the sigmoid)
        lam = torch.where(w == 0, l0, torch.where(w == 1, l1, lam))
        return lam.to(t.dtype)

    def levels(self, steps: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
        """The λ grid of a run of ``steps`` steps: the knots themselves when ``steps = len(logsnrs) − 1``."""
        if steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs at least one step, got {steps}")
        lam = self(torch.linspace(1, 0, steps + 1, dtype=torch.float64))
        return lam.to(dtype)


__all__ = ["LogSNRKnots", "TKnots", "TabulatedSchedule"]
