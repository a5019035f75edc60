"""UniPC with diffusers' order rules: ``diffusers_unipc``.

UniP-p predictor and UniC corrector in data prediction (Zhao et al. 2023,
Alg. 1–2, B(h) = h for ``bh1``, e^h − 1 for ``bh2``), written in h = (λ′ − λ)/2
for any input scaler. What makes it diffusers' ``UniPCMultistepScheduler``: the
order of step i is min(solver_order, i + 1, N − i) (plain lower-order warm-up
and, with ``lower_order_final``, lower orders on the last steps); from the
second step on, the point the model was just evaluated at is first corrected by
UniC with that evaluation (no extra call), at the previous step's order, and
the predictor starts from the corrected point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype, batch_view, to_compute
from gdf_plugins.interop_samplers.orders import OrderPlan, div0, infinite_ends, nonzero, plan_orders


@dataclass(frozen=True)
class UniPCNode:
    """A history level: η = λ/2 and x̂0 there; the newest also keeps the point its predictor started
    from, which the next step's corrector (UniC) refines."""

    logsnr: Tensor
    value: Tensor
    x: Optional[Tensor] = None


#: The cases of a grid's ends: (starts at λ = −∞, ends at λ = +∞).
ENDS = ((False, False), (True, False), (False, True), (True, True))


@dataclass(frozen=True)
class UniPCPlan(OrderPlan):
    """``orders`` for the grid's ends as ``prepare`` read them (``ends``). Under torch.compile no value is
    read (``ends`` is None): ``by_ends`` holds the orders of each case of ``ENDS``, and a step whose orders
    differ between cases takes each and keeps, per sample, the one of its grid's ends (``torch.where``)."""

    by_ends: tuple[tuple[int, ...], ...] = ()
    ends: Optional[tuple[bool, bool]] = None


#: (corrector's order or 0, predictor's order, the samples it is for: None for all) of one variant of a step.
Variant = tuple[int, int, Optional[Tensor]]


def _coefficients(rks: list[Tensor], hh: Tensor, variant: str, order: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(R, b, h·φ₁, B(h)) of UniPC's linear system (Zhao et al. 2023, Alg. 1), per sample."""
    h_phi_1 = torch.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    b_h = hh if variant == "bh1" else torch.expm1(hh)
    r = torch.stack(rks + [torch.ones_like(hh)], dim=-1)  # (B, K)
    rows, bs, factorial = [], [], 1
    for i in range(1, order + 1):
        rows.append(r ** (i - 1))
        bs.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    return torch.stack(rows, dim=-2), torch.stack(bs, dim=-1), h_phi_1, b_h


class DiffusersUniPCSampler(SamplerBase):
    """diffusers' UniPCMultistepScheduler step (Zhao et al. 2023), with its warm-up, corrector and last-step orders."""

    name = "diffusers_unipc"

    def __init__(self, solver_order: int = 2, solver_type: Literal["bh1", "bh2"] = "bh2", lower_order_final: bool = True) -> None:
        if solver_order not in (1, 2, 3):
            raise ValueError(f"sampler {self.name!r}: solver_order must be 1, 2 or 3, got {solver_order!r}")
        self.solver_order = solver_order
        self.solver_type = solver_type
        self.lower_order_final = lower_order_final

    @property
    def corrects_previous_step(self) -> bool:
        """UniC refines the previous step with this step's model call (the testing kit reads this)."""
        return True

    def _rule(self, i: int, steps: int) -> int:
        """diffusers' order of step i of ``steps``: min(solver_order, i + 1, N − i) (the last only with lower_order_final)."""
        return min(self.solver_order, i + 1, steps - i) if self.lower_order_final else min(self.solver_order, i + 1)

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> UniPCPlan:
        """diffusers' orders, on grids with infinite ends (which diffusers never builds) made finite or refused.

        From λ = −∞ no difference may reach back to that level (its ratio to a step is ∞/∞): step i's order is
        at most i. Into λ′ = +∞ every ratio of the last step is 0 and the order-3 system is singular (diffusers
        raises there): that step is order ≤ 2. bh1 (B(h) = h) across an infinite step diverges: refused (in
        eager runs; under torch.compile the ends are not read, see ``UniPCPlan``).
        """
        orders = plan_orders(self._rule, logsnrs).orders
        by_ends = tuple(_capped(orders, *case) for case in ENDS)
        ends = infinite_ends(logsnrs)
        if ends is None:
            return UniPCPlan(orders, by_ends, None)
        from_noise, to_data = ends
        if self.solver_type == "bh1" and ((to_data and orders[-1] > 1) or (from_noise and len(orders) > 1)):
            where = (f"at order {orders[-1]} on a last step into clean data (λ′ = +∞)" if to_data and orders[-1] > 1
                     else "correcting a first step from pure noise (λ = −∞)")
            raise ValueError(
                f"sampler {self.name!r}: bh1 {where} diverges (B(h) = h grows without bound; diffusers' own step gives "
                "±inf or NaN there): use solver_type='bh2', lower_order_final=True, or a grid with finite ends"
            )
        return UniPCPlan(by_ends[ENDS.index(ends)], by_ends, ends)

    def _variants(self, state: SamplingState) -> list[Variant]:
        """This step's (corrector order, predictor order, samples): the corrector takes the previous step's
        order. One variant for all samples, unless the plan could not read the grid's ends and they matter here."""
        plan, i, known = state.plan, state.step, len(state.history)

        def pair(order: Callable[[int], int]) -> tuple[int, int]:
            """(corrector, predictor) orders, capped by the history there is, from the order of each step."""
            return (min(order(i - 1), known) if known else 0), min(order(i), known + 1)

        if not isinstance(plan, UniPCPlan) or plan.ends is not None:  # the plan's orders, or (by hand) the rule's
            if isinstance(plan, OrderPlan) and i < len(plan.orders):
                return [(*pair(plan.orders.__getitem__), None)]
            return [(*pair(lambda j: self._rule(j, state.num_steps)), None)]
        cases: dict[tuple[int, int], list[tuple[bool, bool]]] = {}
        for case, orders in zip(ENDS, plan.by_ends):
            cases.setdefault(pair(orders.__getitem__), []).append(case)
        if len(cases) == 1:
            return [(*next(iter(cases)), None)]
        assert state.logsnrs is not None
        from_noise, to_data = torch.isneginf(state.logsnrs[0]), torch.isposinf(state.logsnrs[-1])
        return [
            (corr, pred, torch.stack([(from_noise == a) & (to_data == b) for a, b in group]).any(0))
            for (corr, pred), group in cases.items()
        ]

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        if state.step == 0:
            state.history.clear()
        x0, _ = denoise(x, logsnr)
        m_t, xc = to_compute(x0), to_compute(x)
        lam = batch_view(to_compute(logsnr), xc) / 2
        hist = [(node.logsnr, node.value) for node in state.history]
        new = [(lam, m_t)] + hist[: self.solver_order - 1]
        lam_t = batch_view(to_compute(logsnr_next), xc) / 2
        start, out = None, None
        for corr, pred, samples in self._variants(state):
            x_v = xc
            if state.history:  # UniC: correct the point just evaluated (the newest node's x), with that evaluation
                newest = state.history[0]
                assert newest.x is not None
                x_v = torch.where(lam == newest.logsnr, xc, self._corrector(hist, newest.x, lam, m_t, corr, scaler, xc))
            x_next = torch.where(lam_t == lam, x_v, self._predictor(new, x_v, lam_t, pred, scaler))
            if samples is None or start is None or out is None:  # the first variant: every sample, until a later one's
                start, out = x_v, x_next
            else:
                where = batch_view(samples, xc)
                start, out = torch.where(where, x_v, start), torch.where(where, x_next, out)
        assert start is not None and out is not None
        state.history[:] = [UniPCNode(lam, m_t, x=start)] + [UniPCNode(lv, v) for lv, v in new[1:]]
        return as_dtype(out, x.dtype)

    def _predictor(self, hist: list[tuple[Tensor, Tensor]], x: Tensor, lam_t: Tensor, order: int, scaler: InputScaler) -> Tensor:
        lam_s0, m0 = hist[0]
        h = nonzero(lam_t - lam_s0)  # λ′ = λ: the step's result is x (see step)
        rks = [(hist[i][0] - lam_s0) / h for i in range(1, order)]
        d1s = [div0(hist[i][1] - m0, rks[i - 1]) for i in range(1, order)]
        R, b, h_phi_1, b_h = _coefficients(rks, -h, self.solver_type, order)
        a_t, s_t = self._ab(scaler, lam_t, x)
        _, s_s = self._ab(scaler, lam_s0, x)
        x_t = (s_t / s_s) * x - a_t * h_phi_1 * m0
        if d1s:
            rhos = torch.full_like(h, 0.5)[..., None] if order == 2 else _solve(R[..., :-1, :-1], b[..., :-1])
            x_t = x_t - a_t * b_h * sum(rhos[..., k] * d for k, d in enumerate(d1s))
        return x_t

    def _corrector(
        self, hist: list[tuple[Tensor, Tensor]], last_x: Tensor, lam_t: Tensor, m_t: Tensor, order: int, scaler: InputScaler, x: Tensor
    ) -> Tensor:
        lam_s0, m0 = hist[0]
        h = nonzero(lam_t - lam_s0)  # λ = the previous level: the corrector is replaced by x (see step)
        rks = [(hist[i][0] - lam_s0) / h for i in range(1, order)]
        d1s = [div0(hist[i][1] - m0, rks[i - 1]) for i in range(1, order)]
        R, b, h_phi_1, b_h = _coefficients(rks, -h, self.solver_type, order)
        rhos = torch.full_like(h, 0.5)[..., None] if order == 1 else _solve(R, b)
        a_t, s_t = self._ab(scaler, lam_t, x)
        _, s_s = self._ab(scaler, lam_s0, x)
        x_t = (s_t / s_s) * last_x - a_t * h_phi_1 * m0
        corr = sum(rhos[..., k] * d for k, d in enumerate(d1s)) if d1s else torch.zeros_like(x_t)
        return x_t - a_t * b_h * (corr + rhos[..., -1] * (m_t - m0))

    @staticmethod
    def _ab(scaler: InputScaler, lam_half: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        return scaled(scaler, (2 * lam_half).reshape(-1), x)


def _capped(orders: tuple[int, ...], from_noise: bool, to_data: bool) -> tuple[int, ...]:
    """The orders on a grid from λ = −∞ (step i at most i) and/or into λ′ = +∞ (the last at most 2)."""
    capped = [min(order, max(1, i)) for i, order in enumerate(orders)] if from_noise else list(orders)
    if to_data and capped:
        capped[-1] = min(capped[-1], 2)
    return tuple(capped)


def _solve(R: Tensor, b: Tensor) -> Tensor:
    """ρ with R·ρ = b, batched over the leading dimensions (float64 for the small ill-conditioned system)."""
    return as_dtype(torch.linalg.solve(as_dtype(R, torch.float64), as_dtype(b, torch.float64)[..., None])[..., 0], b.dtype)


__all__ = ["DiffusersUniPCSampler"]
