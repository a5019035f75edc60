"""Shared maths of the solver samplers: λ-grid coefficients, Lagrange weights, safe ends.

Every sampler in gdf works on one exact identity. Write σ = b/a = e^(−λ/2) and
η = λ/2 (the "λ" of DPM-Solver). Whatever the input scaler, y = x/a = x0 + σ·ε
follows the variance-exploding probability-flow ODE dy/dσ = ε̂ = (y − x̂0)/σ,
so a step from λ to λ′ depends on the path of (a, b) only through a′, b′, b′/b
and σ. Its exact solution in data-prediction form (Lu et al. 2022b,
"DPM-Solver++", eq. 9) is::

    x′ = (b′/b)·x + a′·∫_0^h e^(−(h−τ))·x̂0(η + τ) dτ,     h = η′ − η,

and in noise-prediction form (Zhang & Chen 2023, "DEIS"; the σ-ODE)::

    x′ = a′·x̂0 + b′·ε̂ + a′·∫_σ^σ′ (ε̂(s) − ε̂(σ)) ds.

The samplers differ in how they interpolate x̂0 or ε̂ between the levels where
the model was called (polynomials in η, in σ or in log σ) and integrate the
interpolant exactly; the weights below do that integration.

The ends:

* λ = −∞ (pure noise, zero terminal SNR; a = 0): the coefficient maths clamps
  η from below at ``ETA_FLOOR`` (σ ≈ 2·10¹⁷), which changes nothing measurable
  (e^(−40)), while x is still scaled with the true (a, b) of the scaler; b′/b
  never divides by zero there. A history level at −∞ then acts as a far node,
  i.e. the formula falls back to lower order by itself.
* λ′ = +∞ (clean data; b′ = 0): a polynomial in η cannot be integrated up to
  η′ = ∞, so a data-prediction step into λ′ = +∞ extrapolates x̂0 to σ = 0
  with a Lagrange polynomial in σ² through the same levels. Along the ODE,
  y and x̂0 are smooth functions of σ² (the VE flow is an ODE in σ², whose
  marginals p ∗ N(0, σ²) depend on σ²), so the last step keeps the order of
  the method; the weights are near 1 and small because the σ² of a grid are
  spread geometrically. This is chosen per sample with ``torch.where``: no
  Python branching on tensor values, no ``.item()``.

All coefficients are computed in float64 (float32 on devices without it) on
tensors of shape (batch,), then cast to the dtype of x.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
from torch import Tensor

from gdf_core.tensors import batch_view

#: η = λ/2 is clamped from below here for coefficient maths (λ = −80, σ ≈ 2.4e17).
ETA_FLOOR = -40.0


def coeff_dtype(t: Tensor) -> torch.dtype:
    """float64 for coefficients, unless the device has no float64 (MPS)."""
    return torch.float32 if t.device.type == "mps" else torch.float64


def half_logsnr(logsnr: Tensor) -> Tensor:
    """η = λ/2 in the coefficient dtype, clamped from below at ``ETA_FLOOR`` (+∞ is kept)."""
    return (logsnr.to(coeff_dtype(logsnr)) / 2).clamp(min=ETA_FLOOR)


def is_clean(logsnr: Tensor) -> Tensor:
    """Boolean (batch,): λ = +∞, the step lands on clean data."""
    return torch.isposinf(logsnr)


def scaler_coeffs(scaler, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) at λ in the coefficient dtype."""
    a, b = scaler(logsnr.to(coeff_dtype(logsnr)))
    return a.to(coeff_dtype(logsnr)), b.to(coeff_dtype(logsnr))


def ratio(num: Tensor, den: Tensor) -> Tensor:
    """num/den, with 0 where num is 0 (so b′/b = 0 at λ′ = +∞ even if b were 0)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(num == 0, torch.zeros_like(num), num / safe)


def bview(c: Tensor, x: Tensor) -> Tensor:
    """A (batch,) coefficient as a tensor broadcasting against ``x``, in x's dtype."""
    return batch_view(c, x).to(x.dtype)


def combine(terms: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """Σ c_i·v_i with (batch,) coefficients c_i broadcast against the v_i (≥ float32).

    One multiplication, then one fused ``addcmul_`` per further term into the
    fresh result (one pass over x per term instead of two).
    """
    out = None
    for c, v in terms:
        cv = bview(c, v)
        out = cv * v if out is None else out.addcmul_(cv, v)
    assert out is not None
    return out


def combine_rows(coeffs: Tensor, values: Sequence[Tensor]) -> Tensor:
    """Σ_i coeffs[i]·values[i] for a stacked (terms, batch) coefficient tensor (one cast for all)."""
    v0 = values[0]
    cs = coeffs.to(v0.dtype).view(coeffs.shape[0], -1, *([1] * (v0.dim() - 1))).unbind(0)
    out = cs[0] * v0
    for c, v in zip(cs[1:], values[1:]):
        out.addcmul_(c, v)
    return out


def compute(x: Tensor) -> Tensor:
    """x in at least float32 (bf16/fp16 inputs are computed in float32)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


# ---------------------------------------------------------------------------
# Lagrange bases
# ---------------------------------------------------------------------------
def lagrange_coefficients(nodes: Sequence[Tensor]) -> list[list[Tensor]]:
    """Monomial coefficients c[j][k] of the Lagrange basis ℓ_j(s) = Σ_k c[j][k]·s^k.

    ``nodes`` are (batch,) tensors; the result solves the Vandermonde system
    Σ_j w_j·s_j^k = μ_k through w_j = Σ_k c[j][k]·μ_k.
    """
    n = len(nodes)
    out = []
    for j in range(n):
        poly = [torch.ones_like(nodes[j])]
        for i in range(n):
            if i == j:
                continue
            denom = nodes[j] - nodes[i]
            new = [torch.zeros_like(poly[0]) for _ in range(len(poly) + 1)]
            for k, c in enumerate(poly):
                new[k + 1] = new[k + 1] + c / denom
                new[k] = new[k] - c * nodes[i] / denom
            poly = new
        out.append(poly)
    return out


def lagrange_at(nodes: Sequence[Tensor], point: Tensor | float) -> list[Tensor]:
    """ℓ_j(point) for the Lagrange basis on ``nodes``."""
    out = []
    for j in range(len(nodes)):
        v = torch.ones_like(nodes[j])
        for i in range(len(nodes)):
            if i != j:
                v = v * (point - nodes[i]) / (nodes[j] - nodes[i])
        out.append(v)
    return out


def quadrature(nodes: Sequence[Tensor], moments: Sequence[Tensor]) -> list[Tensor]:
    """Weights w_j = ∫ kernel·ℓ_j for the moments μ_k = ∫ kernel·s^k."""
    return [sum(c * m for c, m in zip(cj, moments)) for cj in lagrange_coefficients(nodes)]


# ---------------------------------------------------------------------------
# Moments of the exponential kernels
# ---------------------------------------------------------------------------
_SERIES_TERMS = 22


def _power_series(x: Tensor, coefficients: tuple[tuple[float, ...], ...]) -> list[Tensor]:
    """Σ_m c[k][m]·x^m for each row k, in one matrix product (x of shape (batch,))."""
    terms = len(coefficients[0])
    powers = x.unsqueeze(-1) ** torch.arange(terms, device=x.device, dtype=x.dtype)
    table = torch.tensor(coefficients, dtype=x.dtype, device=x.device)  # (rows, terms)
    return list((powers @ table.T).unbind(-1))


@functools.lru_cache(maxsize=None)
def _series_table(kind: str, n: int) -> tuple[tuple[float, ...], ...]:
    """Power-series coefficients of the moments (cached): rows k < n."""
    if kind == "data":
        return tuple(
            tuple((-1.0) ** m * math.factorial(k) / float(math.factorial(m + k + 1)) for m in range(_SERIES_TERMS))
            for k in range(n)
        )
    if kind == "noise":
        return tuple(
            tuple((-1.0) ** m / float(math.factorial(m) * (m + k + 1)) for m in range(_SERIES_TERMS)) for k in range(n)
        )
    rows = [tuple([1.0] + [0.0] * 59)]
    for k in range(1, n):
        rows.append(
            tuple(
                math.comb(m + k - 1, k - 1) * math.factorial(k) * math.factorial(m) / float(math.factorial(m + k + 1))
                for m in range(60)
            )
        )
    return tuple(rows)


def data_moments(H: Tensor, n: int) -> list[Tensor]:
    """μ_k = H·∫_0^1 e^(−H(1−s))·s^k ds, k < n, for H ≥ 0 (and H = +∞: μ_k = 1).

    The data-prediction kernel; μ_0 = 1 − e^(−H). A power series below H = 1,
    μ_k = H·k!·Σ_m (−H)^m/(m + k + 1)!, the stable recurrence
    μ_k = 1 − k·μ_(k−1)/H above.
    """
    Hs = torch.where(H < 1, H, torch.zeros_like(H))
    series = [Hs * v for v in _power_series(Hs, _series_table("data", n))]
    Hr = torch.where(H < 1, torch.ones_like(H), H)
    rec = [-torch.expm1(-Hr)]
    for k in range(1, n):
        rec.append(1 - k * rec[-1] / Hr)
    return [torch.where(H < 1, s_, r) for s_, r in zip(series, rec)]


def noise_moments(h: Tensor, n: int) -> list[Tensor]:
    """ν_k = h·∫_0^1 e^(−h·s)·s^k ds, k < n (the kernel of ε̂ polynomial in log σ)."""
    hs = torch.where(h < 1, h, torch.zeros_like(h))
    series = [hs * v for v in _power_series(hs, _series_table("noise", n))]
    hr = torch.where(h < 1, torch.ones_like(h), h)
    e = torch.exp(-hr)
    rec = [-torch.expm1(-hr)]
    for k in range(1, n):
        rec.append(-e + k * rec[-1] / hr)
    return [torch.where(h < 1, s_, r) for s_, r in zip(series, rec)]


def _t_moments(alpha: Tensor, n: int) -> list[Tensor]:
    """Q_k(α) = ∫_0^1 (r/(α + (1 − α)·r))^k dr for k < n, α ∈ [0, 1].

    A power series in β = 1 − α for β < 1/2, the closed form
    Q_k = β^(−k−1)·Σ_m C(k, m)·(−α)^m·∫_α^1 q^(−m) dq above.
    """
    beta = 1 - alpha
    bs = torch.where(beta < 0.5, beta, torch.zeros_like(beta))
    series = _power_series(bs, _series_table("t", n))
    bc = torch.where(beta < 0.5, torch.ones_like(beta), beta)
    ac = 1 - bc
    log_a = torch.log(ac)
    closed = []
    for k in range(n):
        total = torch.zeros_like(beta)
        for m in range(k + 1):
            if m == 0:
                term = bc  # ∫_α^1 dq = 1 − α
            elif m == 1:
                term = ac * log_a  # (−α)·∫_α^1 dq/q = α·log α
            else:
                term = ((-1) ** m) * (ac - ac**m) / (m - 1)  # (−α)^m·(α^(1−m) − 1)/(m − 1)
            total = total + math.comb(k, m) * term
        closed.append(total / bc ** (k + 1))
    return [torch.where(beta < 0.5, s_, c_) for s_, c_ in zip(series, closed)]


INTERPOLATIONS = ("logsnr", "t", "t2")


def data_nodes(etas: Sequence[Tensor], eta_next: Tensor, interpolation: str) -> list[Tensor]:
    """Normalised interpolation nodes s_j of the levels ``etas`` for a step to η′.

    ``"logsnr"``: s = (η − η0)/h (DPM-Solver++, UniPC); ``"t"``: s = (t − t0)/(t′ − t0)
    with t = σ/(1 + σ) = sigmoid(−η), the rectified-flow time of the level for any
    scaler (see ``data_moments_for``).
    """
    eta0 = etas[0]
    final = torch.isposinf(eta_next)
    if interpolation == "logsnr":
        h = eta_next - eta0
        hs = torch.where(final, torch.ones_like(h), h)
        return [(e - eta0) / hs for e in etas]
    power = 2 if interpolation == "t2" else 1
    t0 = torch.sigmoid(-eta0) ** power
    dt = torch.sigmoid(-eta_next) ** power - t0
    dt = torch.where(dt == 0, torch.ones_like(dt), dt)
    return [(torch.sigmoid(-e) ** power - t0) / dt for e in etas]


def data_moments_for(etas: Sequence[Tensor], eta_next: Tensor, n: int, interpolation: str) -> list[Tensor]:
    """μ_k = ∫_0^h e^(−(h−τ))·s(τ)^k dτ, k < n, for the node variable s of ``data_nodes``.

    For ``"t"``: t is smooth in 1/σ near noise and in σ² near data, so steps from
    λ = −∞ and into λ′ = +∞ keep their order. With u = e^η = 1/σ the exact
    integral is (1/u′)·∫_u0^u′ x̂0 du, and in r = (u − u0)/(u′ − u0) the node
    variable is s = r/(α + (1 − α)·r), α = (1 + u0)/(1 + u′) = t′/t0, so
    μ_k = (1 − e^(−h))·Q_k(α) in closed form (``_t_moments``).
    """
    h = eta_next - etas[0]
    if interpolation == "logsnr":
        return data_moments(h, n)
    t0, t1 = torch.sigmoid(-etas[0]), torch.sigmoid(-eta_next)
    alpha = (t1 / t0).clamp(0, 1)
    m0 = -torch.expm1(-h)
    if interpolation == "t":
        return [m0 * q for q in _t_moments(alpha, n)]
    # t²: (t² − t0²)/(t′² − t0²) = s·(A + B·s) with s the t-node variable,
    # A = 2·t0/(t′ + t0), B = (t′ − t0)/(t′ + t0); expand and use the t moments.
    q = _t_moments(alpha, 2 * n - 1)
    A, B = 2 * t0 / (t1 + t0), (t1 - t0) / (t1 + t0)
    out = []
    for k in range(n):
        out.append(m0 * sum(math.comb(k, i) * A ** (k - i) * B**i * q[k + i] for i in range(k + 1)))
    return out


def final_weights(etas: Sequence[Tensor], interpolation: str) -> list[Tensor]:
    """Weights of x̂0 extrapolated to σ = 0 (a step into λ′ = +∞): Lagrange at 0 in σ².

    Whatever the interpolation of the other steps: x̂0 along the ODE is a smooth
    function of σ² (the module docstring), which t = σ/(1 + σ) is not (x̂0 − x̂0(0)
    is O(t²) with no linear term, so a line in t through two levels is off by
    O(t₁·t₂) where a line in σ² is off by O(σ₁²·σ₂²)).
    """
    eta0 = etas[0]
    q = [torch.exp(-2 * (e - eta0)) for e in etas]
    return lagrange_at(q, 0.0)


def data_weights(
    etas: Sequence[Tensor],
    eta_next: Tensor,
    *,
    kappa: float = 1.0,
    midpoint: bool = False,
    interpolation: str = "logsnr",
) -> list[Tensor]:
    """Weights w_j of x′ = c·x + a′·Σ_j w_j·x̂0_j for x̂0 interpolated through the levels ``etas``.

    ``etas[0]`` is the level the step starts from; the others are earlier levels
    (multistep) or stage levels. ``interpolation``: x̂0 polynomial in η (DPM-Solver++)
    or in t = σ/(1 + σ) (see ``data_moments_for``). ``kappa`` = 1 for the ODE; the SDE
    solvers (kernel κ·e^(−κ(h−τ)), κ = 1 + η_sde) pass κ (logsnr only). At η′ = +∞ the
    weights are those of x̂0 extrapolated to σ = 0 (``final_weights``).
    ``midpoint`` gives DPM-Solver++(2M)'s original form for two nodes in η:
    (1 − e^(−κh))·((1 + 1/2r)·x̂0_0 − (1/2r)·x̂0_1).
    """
    eta0 = etas[0]
    final = torch.isposinf(eta_next)
    n = len(etas)
    H = kappa * (eta_next - eta0)
    if n == 1:
        return [-torch.expm1(-H)]
    if kappa != 1.0 and interpolation != "logsnr":
        raise ValueError("the SDE kernel (kappa ≠ 1) is integrated for x̂0 polynomial in logsnr only")
    nodes = data_nodes(etas, eta_next, interpolation)
    if midpoint and n == 2 and interpolation == "logsnr":
        m0 = -torch.expm1(-H)
        w = [m0 * (1 - 1 / (2 * nodes[1])), m0 / (2 * nodes[1])]
    elif interpolation == "logsnr":
        w = quadrature(nodes, data_moments(H, n))
    else:
        w = quadrature(nodes, data_moments_for(etas, eta_next, n, interpolation))
    w_end = final_weights(etas, interpolation)
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]


def sigma_ab_weights(sigmas: Sequence[Tensor], sigma_next: Tensor) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j(s) ds for ε̂ polynomial in σ through ``sigmas`` (Adams–Bashforth in σ)."""
    s0 = sigmas[0]
    span = sigma_next - s0
    n = len(sigmas)
    if n == 1:
        return [span]
    safe = torch.where(span == 0, torch.ones_like(span), span)
    nodes = [(s - s0) / safe for s in sigmas]
    moments = [torch.full_like(s0, 1.0 / (k + 1)) for k in range(n)]
    return [span * w for w in quadrature(nodes, moments)]


def log_sigma_weights(etas: Sequence[Tensor], eta_next: Tensor, sigma0: Tensor) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j ds for ε̂ polynomial in log σ = −η (DEIS, "log-ρ" Adams–Bashforth).

    At σ′ = 0 the polynomial in σ (``sigma_ab_weights``) is used instead: a
    polynomial in log σ would be extrapolated to log σ = −∞.
    """
    eta0 = etas[0]
    h = eta_next - eta0
    final = torch.isposinf(eta_next)
    n = len(etas)
    hs = torch.where(final, torch.ones_like(h), h)
    nodes = [(e - eta0) / hs for e in etas]
    w = [-sigma0 * wj for wj in quadrature(nodes, noise_moments(hs, n))]
    sig = [torch.exp(-e) for e in etas]
    w_end = sigma_ab_weights(sig, torch.zeros_like(sigma0))
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]


class Levels:
    """The coefficients of one step λ → λ′, in the coefficient dtype, shape (batch,).

    ``eta``/``eta_next`` (η = λ/2, floored), ``h`` = η′ − η, ``a, b, a_next, b_next``
    from the scaler, ``b_ratio`` = b′/b, ``sigma``/``sigma_next`` = e^(−η) (σ′ = 0
    at λ′ = +∞) and ``final`` (λ′ = +∞).
    """

    def __init__(self, scaler, logsnr: Tensor, logsnr_next: Tensor) -> None:
        self.logsnr = logsnr.to(coeff_dtype(logsnr))
        self.logsnr_next = logsnr_next.to(coeff_dtype(logsnr_next))
        self.eta = half_logsnr(logsnr)
        self.eta_next = half_logsnr(logsnr_next)
        self.h = self.eta_next - self.eta
        self.final = torch.isposinf(self.eta_next)
        self.a, self.b = scaler_coeffs(scaler, logsnr)
        self.a_next, self.b_next = scaler_coeffs(scaler, logsnr_next)
        self.b_ratio = ratio(self.b_next, self.b)
        self.sigma = torch.exp(-self.eta)
        self.sigma_next = torch.exp(-self.eta_next)


# ---------------------------------------------------------------------------
# The coefficients of a whole run at once
# ---------------------------------------------------------------------------
def _is_view_of(t: Tensor, g: Tensor) -> bool:
    """Whether ``t`` is the very view ``g`` of the same storage (metadata only, no tensor values)."""
    return (
        t.data_ptr() == g.data_ptr()
        and t.shape == g.shape
        and t.stride() == g.stride()
        and t.dtype == g.dtype
        and t.device == g.device
    )


def grid_streak(state, logsnr: Tensor, logsnr_next: Tensor) -> int:
    """How many consecutive steps, this one included, were taken on ``state.logsnrs`` (0: not this one).

    A step is "on the grid" when its λ and λ′ are the rows ``state.step`` and
    ``state.step + 1`` of ``state.logsnrs`` (as ``integrate`` and ``GDF.sample``
    pass them): checked on the tensors' storage, never on their values. Call once
    per step; ``step_table`` may then give the coefficients of a step whose
    history spans at most that many levels.
    """
    grid, i = state.logsnrs, state.step
    ok = (
        grid is not None
        and grid.dim() == 2
        and 0 <= i < grid.shape[0] - 1
        and _is_view_of(logsnr, grid[i])
        and _is_view_of(logsnr_next, grid[i + 1])
    )
    prev = state.scratch.get("grid_streak")
    if not ok:
        n = 0
    elif i > 0 and prev is not None and prev[0] == i - 1 and prev[2] is grid and prev[1] > 0:
        n = prev[1] + 1
    else:
        n = 1
    state.scratch["grid_streak"] = (i, n, grid)
    return n


def step_table(state, scaler, key, nodes: int, fn, step: int | None = None) -> Tensor:
    """Row ``step`` (default ``state.step``) of ``fn`` evaluated once on the whole grid: (terms, batch).

    ``fn(etas, lv)`` gives a step's coefficients from the η of its ``nodes`` levels
    (newest first: this step's and the ``nodes − 1`` before it) and its ``Levels``;
    every operation in it is elementwise, so calling it on tensors of shape
    (rows, batch), one row per step, gives every step's coefficients at the cost
    of one step's small-tensor operations. Computed on the first use in a run and
    kept in ``state.scratch``; only for steps on the grid (``grid_streak`` ≥ nodes).
    """
    grid = state.logsnrs
    step = state.step if step is None else step
    tables = state.scratch.setdefault("grid_tables", {})
    entry = tables.get((key, nodes))
    if entry is None or entry[0] is not grid or entry[1] is not scaler:
        n = grid.shape[0] - 1
        lv = Levels(scaler, grid[nodes - 1 : n], grid[nodes : n + 1])
        eta = half_logsnr(grid)
        etas = [eta[nodes - 1 - k : n - k] for k in range(nodes)]
        entry = (grid, scaler, torch.stack(torch.broadcast_tensors(*fn(etas, lv))))
        tables[(key, nodes)] = entry
    return entry[2][:, step - (nodes - 1)]


def warmup_correction(state, x: Tensor, x0: Tensor, lv: Levels) -> Tensor:
    """x at the second level of a run, corrected once x̂0 there is known (no extra model call).

    A multistep method's first step is first order; its local error O(h²)
    would cap the global order at 2 whatever the method's order (a real effect
    from pure noise, λ = −∞, where x̂0 changes at once). At step 1 the first
    step is redone with x̂0 linear in t = σ/(1 + σ) through both levels (UniPC's
    corrector UniC-1, Zhao et al. 2023, in the t interpolation, which is exact
    at λ = −∞); x̂0 at level 1 was taken at the uncorrected x, an O(h³) effect.
    Call at every step with this step's x and x̂0 and its ``Levels``; returns x
    (corrected at step 1). Keeps what it needs in ``state.scratch``.
    """
    if state.step == 0:
        state.scratch["warmup"] = (compute(x), compute(x0), lv)
        return x
    if state.step != 1 or "warmup" not in state.scratch:
        return x
    x_start, x0_start, lv0 = state.scratch.pop("warmup")
    w = data_weights([lv0.eta, lv.eta], lv.eta, interpolation="t")
    return combine([(lv0.b_ratio, x_start), (lv0.a_next * w[0], x0_start), (lv0.a_next * w[1], compute(x0))]).to(
        x.dtype
    )


def at_level(scaler, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) at λ in the coefficient dtype (alias of ``scaler_coeffs``)."""
    return scaler_coeffs(scaler, logsnr)


__all__ = [
    "ETA_FLOOR",
    "Levels",
    "at_level",
    "warmup_correction",
    "bview",
    "coeff_dtype",
    "combine",
    "combine_rows",
    "grid_streak",
    "step_table",
    "compute",
    "data_moments",
    "data_weights",
    "data_moments_for",
    "data_nodes",
    "final_weights",
    "half_logsnr",
    "INTERPOLATIONS",
    "is_clean",
    "lagrange_at",
    "lagrange_coefficients",
    "log_sigma_weights",
    "noise_moments",
    "quadrature",
    "ratio",
    "scaler_coeffs",
    "sigma_ab_weights",
]
