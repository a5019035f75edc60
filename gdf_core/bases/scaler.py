"""Base of input scalers, with the original GDF's limits stretching."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from gdf_core.component import Component
from gdf_core.domains import ScalerLimits
from gdf_core.tensors import as_dtype, result_dtype, to_compute


class ScalerBase(Component):
    """(a, b) from λ through ``scalers``; optionally stretched so the schedule's ends are exact.

    ``limits = (min_a, max_a, min_b, max_b)`` maps a → (a − min_a)/(max_a − min_a)
    and b → (b − min_b)/(max_b − min_b): with the limits of a schedule, t = 1 gives
    (a, b) = (0, 1) and t = 0 gives (1, 0), i.e. zero terminal SNR
    (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed").
    """

    kind = "input_scaler"

    def __init__(self, *, limits: Optional[ScalerLimits] = None) -> None:
        self.limits = None if limits is None else tuple(float(v) for v in limits)

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        """Unstretched (a, b) at λ, in the compute dtype; override this."""
        raise NotImplementedError

    def __call__(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.scalers(to_compute(logsnr))
        if self.limits is not None:
            min_a, max_a, min_b, max_b = self.limits
            a = (a - min_a) / (max_a - min_a)
            b = (b - min_b) / (max_b - min_b)
        dtype = result_dtype(logsnr)
        return as_dtype(a, dtype), as_dtype(b, dtype)

    def setup_limits(
        self,
        schedule: Any,
        input_scaler: Any = None,
        stretch_max: bool = True,
        stretch_min: bool = True,
        shift: float = 1,
    ) -> list[float]:
        """Record the limits of ``schedule`` (at ``shift``) and stretch every later call by them.

        The one method that changes a scaler after construction, kept for parity
        with the original; the limits are a constructor parameter too, so the
        spec of a stretched scaler rebuilds it. Unlike the original, the limits
        are measured on the unstretched (a, b), so calling it twice is harmless.
        ``input_scaler`` is accepted for the original's signature and ignored.
        """
        ends = schedule(torch.tensor([1.0, 0.0]), shift=shift)
        a_ends, b_ends = self.scalers(to_compute(ends))
        min_a, max_b = (a_ends[0].item(), b_ends[0].item()) if stretch_max else (0.0, 1.0)
        max_a, min_b = (a_ends[1].item(), b_ends[1].item()) if stretch_min else (1.0, 0.0)
        if not (min_a < max_a and min_b < max_b):  # the stretch would divide by max_a − min_a = 0: NaN samples
            raise ValueError(
                f"setup_limits: schedule {getattr(schedule, 'name', type(schedule).__name__)!r} at shift={shift!r} has "
                f"λ(1) = {ends[0].item():.4g} and λ(0) = {ends[1].item():.4g}, whose (a, b) do not differ (a from {min_a:.6g} "
                f"to {max_a:.6g}, b from {max_b:.6g} to {min_b:.6g}): there is no range to stretch; use a shift closer to 1"
            )
        self.limits = (min_a, max_a, min_b, max_b)
        return list(self.limits)
