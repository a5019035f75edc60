"""Base of schedules: training draws, ``discrete_steps``, ``shift`` and ``force_limits``."""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import Tensor

from gdf_core.component import Component
from gdf_core.domains import IntRange, Positive
from gdf_core.tensors import compute_dtype, log_shift, result_dtype


class ScheduleBase(Component):
    """λ(t) for a tensor t, or a training draw of λ for an int batch size.

    Subclasses implement ``logsnr(t)`` (t already discretised and clamped to
    [0, 1]) and, where the training distribution is not λ(U) with U uniform,
    ``draw_t`` or ``draw``. Set ``supports_t = False`` for a training-only
    schedule. Subclasses set their own attributes *before* calling
    ``super().__init__``, which evaluates the schedule to record its limits.

    Shared parameters: ``shift`` (multiplies the call's shift; λ ← λ − 2·log
    shift, Hoogeboom et al. 2023, "Simple Diffusion"), ``discrete_steps`` (t
    rounded to N levels; an integer t is a step index), ``force_limits``
    (clamp every output to [λ(1), λ(0)] as measured at construction).
    """

    kind = "schedule"
    supports_t: ClassVar[bool] = True

    def __init__(
        self,
        *,
        shift: Positive = 1.0,
        force_limits: bool = True,
        discrete_steps: Optional[IntRange(2)] = None,  # type: ignore[valid-type]
    ) -> None:
        self.shift = shift
        self.force_limits = force_limits
        self.discrete_steps = discrete_steps
        self.limits: Optional[tuple[float, float]] = None
        if force_limits and self.supports_t:
            ends = self(torch.tensor([1.0, 0.0], dtype=torch.float64))
            self.limits = (ends[0].item(), ends[1].item())

    # -- to override -------------------------------------------------------
    def logsnr(self, t: Tensor) -> Tensor:
        """λ at t ∈ [0, 1] (float32 or float64)."""
        raise NotImplementedError

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """The training distribution of t: uniform on [0, 1] by default."""
        return torch.rand(batch_size, generator=generator)

    def draw(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """A training draw of λ, shape (batch_size,): λ(t) with t from ``draw_t``."""
        return self.logsnr(self._discretise(self.draw_t(batch_size, generator)))

    # -- shared behaviour --------------------------------------------------
    def _discretise(self, t: Tensor) -> Tensor:
        if self.discrete_steps is not None:
            last = self.discrete_steps - 1
            if t.is_floating_point():
                t = (t * last).round()
            t = t.to(compute_dtype(t)) / last
        elif not t.is_floating_point():
            t = t.to(torch.float32)
        return t.clamp(0, 1)

    def __call__(
        self,
        t: Tensor | int | float,
        *,
        shift: float = 1.0,
        generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        if isinstance(t, bool) or not isinstance(t, (Tensor, int, float, list, tuple)):
            raise TypeError(
                f"schedule {self.name!r} takes t as a tensor (values in [0, 1]) or an int "
                f"batch size for a training draw; got {type(t).__name__}"
            )
        if isinstance(t, int):
            if t < 1:
                raise ValueError(f"schedule {self.name!r}: a training draw needs a batch size ≥ 1, got {t}")
            lam = self.draw(t, generator).to(torch.float32)
            out_dtype = torch.float32
        else:
            if not self.supports_t:
                raise TypeError(
                    f"schedule {self.name!r} only draws λ for training: call it with an int "
                    "batch size, not with t (use another schedule for sampling)"
                )
            t_tensor = torch.as_tensor(t, dtype=torch.float32) if not isinstance(t, Tensor) else t
            out_dtype = result_dtype(t_tensor)
            lam = self.logsnr(self._discretise(t_tensor.to(compute_dtype(t_tensor)) if t_tensor.is_floating_point() else t_tensor))
        return self._shifted(lam, shift).to(out_dtype)

    def _shifted(self, lam: Tensor, shift: float) -> Tensor:
        total = shift * self.shift
        if total != 1:
            lam = lam - log_shift(total)
        if self.limits is not None:
            lam = lam.clamp(*self.limits)
        return lam

    # -- quantiles of the training draw (stratified draws) -------------------
    def quantile_t(self, u: Tensor) -> Tensor:
        """t at quantile u of ``draw_t``: u itself for the default uniform draw; override with ``draw_t``."""
        if type(self).draw_t is not ScheduleBase.draw_t:
            raise NotImplementedError(f"schedule {self.name!r} overrides draw_t but not quantile_t")
        return u

    def quantile(self, u: Tensor) -> Tensor:
        """λ at quantile u ∈ (0, 1) of the training draw (before shift); override with ``draw``."""
        if type(self).draw is not ScheduleBase.draw:
            raise NotImplementedError(f"schedule {self.name!r} overrides draw but not quantile")
        return self.logsnr(self._discretise(self.quantile_t(u)))

    def draw_quantiles(self, u: Tensor, *, shift: float = 1.0) -> Tensor:
        """The training draw at given uniform variates u (shape (B,)), shifted and clamped like a call.

        With u stratified over (0, 1) this is a stratified training draw
        (``gdf_core.stratified``); with u ~ U(0, 1) it has the distribution of ``self(B)``.
        """
        return self._shifted(self.quantile(u).to(torch.float32), shift).to(torch.float32)
