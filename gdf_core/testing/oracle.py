"""An exact oracle for sampler accuracy: a Gaussian mixture whose denoiser is known in closed form.

For data x0 ~ Σ_k π_k·N(μ_k, diag(s_k²)) and a noised sample x = a·x0 + b·ε,
the posterior mean (the ideal denoiser, what a perfectly trained model
predicts) is::

    E[x0 | x] = Σ_k r_k(x)·(μ_k + a·s_k²/(a²·s_k² + b²)·(x − a·μ_k)),
    r_k(x) ∝ π_k·N(x; a·μ_k, a²·s_k² + b²),

for any input scaler (a, b), including a = 0 (pure noise: E[x0] = Σ π_k μ_k)
and b = 0 (clean data: x/a). ``reference_solution`` integrates the
probability-flow ODE of that denoiser to near machine precision in float64
(scipy's DOP853, rtol = atol = 1e-12), so the error of a sampler at any number
of model evaluations is measured exactly, with no trained model.

The ODE is integrated in two exact parametrisations of the same flow (see
``gdf_plugins.samplers.maths``): from pure noise up to λ = 0 as dz/du = x̂0 with
z = x/b, u = a/b = e^(λ/2) (well defined at u = 0, i.e. λ = −∞), then
dy/dη = x̂0 − y with y = x/a, η = λ/2, up to λ_end; an end at λ = +∞ stops at
σ = e^(−η) = 1e−9 and returns x̂0 there (the remaining error is O(σ²)).

``denoiser(...)`` builds the ``denoise(x, λ) -> (x0, ε)`` callable of a sampler
step from the oracle, optionally through a ``Target``: the oracle's x0 and ε
are turned into the target's prediction and back with the target's own
``x0``/``epsilon`` inversions, which simulates a perfectly trained model of
that parametrisation (and shows where a target cannot start from λ = −∞).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor

__all__ = [
    "ClassConditionalMixture",
    "CountingDenoiser",
    "GaussianMixture",
    "GuidedDenoiser",
    "denoiser",
    "reference_solution",
    "rms_error",
]


def _as_col(v: Tensor | float, n: int, dtype: torch.dtype) -> Tensor:
    v = torch.as_tensor(v, dtype=dtype)
    if v.dim() == 0:
        v = v.expand(n)
    return v.reshape(n, 1, 1)


@dataclass
class GaussianMixture:
    """Σ_k weights_k·N(means_k, diag(stds_k²)) in float64; ``means`` (K, d), ``stds`` (K, d) or (K,)."""

    means: Tensor
    stds: Tensor
    weights: Tensor

    def __post_init__(self) -> None:
        self.means = torch.as_tensor(self.means, dtype=torch.float64)
        K, d = self.means.shape
        stds = torch.as_tensor(self.stds, dtype=torch.float64)
        self.stds = stds[:, None].expand(K, d).clone() if stds.dim() == 1 else stds
        w = torch.as_tensor(self.weights, dtype=torch.float64)
        self.weights = w / w.sum()

    @classmethod
    def random(
        cls, dim: int = 8, components: int = 4, *, seed: int = 0, spread: float = 1.0, std_range=(0.15, 0.6)
    ) -> "GaussianMixture":
        """A reproducible mixture with well separated modes and unequal component widths."""
        g = torch.Generator().manual_seed(seed)
        means = torch.randn(components, dim, generator=g, dtype=torch.float64) * spread
        lo, hi = std_range
        stds = lo + (hi - lo) * torch.rand(components, dim, generator=g, dtype=torch.float64)
        weights = 0.5 + torch.rand(components, generator=g, dtype=torch.float64)
        return cls(means, stds, weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k] * z

    def posterior_mean(self, x: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
        """E[x0 | a·x0 + b·ε = x] for x of shape (n, ...) (flattened to (n, d)), a and b scalars or (n,)."""
        return self._posterior_mean(x, a, b, None)

    def _posterior_mean(self, x: Tensor, a: Tensor | float, b: Tensor | float, excluded: Optional[Tensor]) -> Tensor:
        """The posterior mean with the components ``excluded[n, k]`` left out for sample n."""
        shape, dtype = x.shape, x.dtype
        xf = x.reshape(shape[0], -1).to(torch.float64)
        n = xf.shape[0]
        ac, bc = _as_col(a, n, torch.float64), _as_col(b, n, torch.float64)
        mu, s2 = self.means[None], (self.stds**2)[None]  # (1, K, d)
        var = ac * ac * s2 + bc * bc  # (n, K, d)
        diff = xf[:, None, :] - ac * mu
        logp = torch.log(self.weights)[None] - 0.5 * (torch.log(var) + diff * diff / var).sum(-1)
        if excluded is not None:
            logp = logp.masked_fill(excluded, -math.inf)
        resp = torch.softmax(logp, dim=1)  # (n, K)
        post = mu + ac * s2 / var * diff
        return (resp[:, :, None] * post).sum(1).reshape(shape).to(dtype)

    def score_free_check(self, x: Tensor, a: float, b: float, n_mc: int = 200_000, seed: int = 0) -> Tensor:
        """Monte Carlo E[x0 | x] by importance weighting prior draws (for tests of the closed form)."""
        g = torch.Generator().manual_seed(seed)
        x0 = self.sample(n_mc, g)  # (m, d)
        xf = x.reshape(x.shape[0], -1).to(torch.float64)
        logw = -0.5 * ((xf[:, None, :] - a * x0[None]) ** 2).sum(-1) / (b * b)
        w = torch.softmax(logw, dim=1)
        return (w @ x0).reshape(x.shape)


@dataclass
class ClassConditionalMixture(GaussianMixture):
    """A Gaussian mixture whose components each belong to a class: ``classes[k]`` (K,) integers.

    The data of class c are the mixture of the class's components (weights
    renormalised), p(x0 | c) ∝ Σ_{k: classes_k = c} π_k·N(μ_k, diag(s_k²)); the
    unconditional data are the whole mixture, p(x0) = Σ_c p(c)·p(x0 | c) with
    p(c) the class's total weight. Both posterior means are exact, so the
    classifier-free guided denoiser is known in closed form.
    """

    classes: Tensor = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.classes = torch.as_tensor(self.classes, dtype=torch.long)
        if self.classes.shape != self.weights.shape:
            raise ValueError(f"classes must have one label per component, shape {tuple(self.weights.shape)}")

    @classmethod
    def random(  # type: ignore[override]
        cls, dim: int = 8, classes: int = 3, per_class: int = 2, *, seed: int = 0, spread: float = 1.0, std_range=(0.15, 0.6)
    ) -> "ClassConditionalMixture":
        """``classes`` classes of ``per_class`` components each (as ``GaussianMixture.random``)."""
        base = GaussianMixture.random(dim, classes * per_class, seed=seed, spread=spread, std_range=std_range)
        return cls(base.means, base.stds, base.weights, torch.arange(classes).repeat_interleave(per_class))

    def widened(self, factor: float) -> "ClassConditionalMixture":
        """The same mixture with every component ``factor`` times wider: a 'bad version' of its denoiser."""
        return ClassConditionalMixture(self.means, self.stds * factor, self.weights, self.classes)

    def sample_class(self, labels: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        """One draw from p(x0 | c) for each label."""
        w = self.weights[None].expand(labels.shape[0], -1).masked_fill(self.classes[None] != labels[:, None], 0)
        k = torch.multinomial(w, 1, generator=generator)[:, 0]
        z = torch.randn(labels.shape[0], self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k] * z

    def conditional_posterior_mean(self, x: Tensor, a: Tensor | float, b: Tensor | float, labels: Tensor) -> Tensor:
        """E[x0 | x, c] for each sample's label c (shape (n,))."""
        return self._posterior_mean(x, a, b, self.classes[None] != labels.reshape(-1, 1))


def _x0_epsilon(mixture: GaussianMixture, x: Tensor, a: Tensor, b: Tensor, labels: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """Exact (x0, ε) of x = a·x0 + b·ε (float64; a, b broadcast against x; ε = 0 where b = 0)."""
    n = x.shape[0]
    a1, b1 = a.reshape(n, -1)[:, 0], b.reshape(n, -1)[:, 0]
    if labels is None:
        x0 = mixture.posterior_mean(x, a1, b1)
    else:
        x0 = mixture.conditional_posterior_mean(x, a1, b1, labels)  # type: ignore[attr-defined]
    safe_b = torch.where(b == 0, torch.ones_like(b), b)
    return x0, torch.where(b == 0, torch.zeros_like(x), (x - a * x0) / safe_b)


class GuidedDenoiser:
    """``denoise(x, λ) -> (x0, ε)`` of a guidance over the exact class-conditional denoisers; counts calls.

    The conditional prediction is E[x0 | x, c] for each sample's label, the
    unconditional one E[x0 | x], the guide's (autoguidance) the conditional
    posterior mean of ``guide`` (e.g. ``mixture.widened(1.5)``). Each is turned
    into ``target``'s prediction, and the guidance combines them as the engine
    does (``gdf_core.guidance.guide_predictions``) at ``t`` and ``step`` (set
    them between steps for a guidance that depends on them). ``posterior_mean``
    makes it usable by ``reference_solution``: the guided ODE's reference, for a
    guidance without per-run state or step dependence.
    """

    def __init__(
        self,
        mixture: ClassConditionalMixture,
        guidance: Any,
        scaler: Any,
        target: Any,
        labels: Tensor,
        *,
        guide: Optional[ClassConditionalMixture] = None,
    ) -> None:
        self.mixture, self.guidance, self.scaler, self.target = mixture, guidance, scaler, target
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.guide = guide
        self.state = guidance.init_state()
        self.t, self.step, self.calls = 0.5, 0, 0

    def __call__(self, x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        from gdf_core.guidance import Predictions, guide_predictions

        self.calls += 1
        lam = torch.as_tensor(logsnr, dtype=torch.float64)
        lam = lam.expand(x.shape[0]) if lam.dim() == 0 else lam
        a, b = (v.to(torch.float64).view((-1,) + (1,) * (x.dim() - 1)) for v in self.scaler(lam))
        x64 = x.to(torch.float64)
        branches = set(getattr(self.guidance, "branches", ()))

        def pred(mixture: GaussianMixture, labels: Optional[Tensor]) -> Tensor:
            x0, eps = _x0_epsilon(mixture, x64, a, b, labels)
            return self.target(x0, eps, lam, a, b)

        raw = Predictions(
            pred(self.mixture, self.labels),
            pred(self.mixture, None) if "unconditional" in branches else None,
            pred(self.guide or self.mixture, self.labels) if "guide" in branches else None,
        )
        _, x0, eps = guide_predictions(
            self.guidance, raw, x=x64, logsnr=lam, a=a, b=b, target=self.target, t=self.t, step=self.step, state=self.state
        )
        return x0.to(x.dtype), eps.to(x.dtype)

    def posterior_mean(self, x: Tensor, a_s: Tensor | float, b_s: Tensor | float) -> Tensor:
        """The guided x0 at the point x·(b/b_s) of the true scaler, where λ = 2·log(a_s/b_s) (for the reference)."""
        n = x.shape[0]
        a_s, b_s = _as_col(a_s, n, torch.float64).reshape(n), _as_col(b_s, n, torch.float64).reshape(n)
        lam = 2 * (torch.log(a_s) - torch.log(b_s))
        b_true = self.scaler(lam)[1].to(torch.float64)
        view = (-1,) + (1,) * (x.dim() - 1)
        return self(x.to(torch.float64) * (b_true / b_s).view(view), lam)[0]


class CountingDenoiser:
    """``denoise(x, λ) -> (x0, ε)`` from a mixture, a scaler and optionally a target; counts calls (NFE)."""

    def __init__(self, mixture: GaussianMixture, scaler: Any, target: Any = None) -> None:
        self.mixture = mixture
        self.scaler = scaler
        self.target = target
        self.calls = 0

    def __call__(self, x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        self.calls += 1
        lam = logsnr.to(torch.float64) if isinstance(logsnr, Tensor) else torch.as_tensor(logsnr, dtype=torch.float64)
        lam = lam.expand(x.shape[0]) if lam.dim() == 0 else lam
        a, b = self.scaler(lam)
        a, b = a.to(torch.float64), b.to(torch.float64)
        x64 = x.to(torch.float64)
        x0 = self.mixture.posterior_mean(x64, a, b)
        view = (-1,) + (1,) * (x.dim() - 1)
        av, bv = a.view(view), b.view(view)
        safe_b = torch.where(bv == 0, torch.ones_like(bv), bv)
        eps = torch.where(bv == 0, torch.zeros_like(x64), (x64 - av * x0) / safe_b)
        if self.target is not None:
            pred = self.target(x0, eps, lam, av, bv)
            x0 = self.target.x0(x64, pred, lam, av, bv)
            eps = self.target.epsilon(x64, pred, lam, av, bv)
        return x0.to(x.dtype), eps.to(x.dtype)


def denoiser(mixture: GaussianMixture, scaler: Any, target: Any = None) -> CountingDenoiser:
    """The oracle's ``denoise(x, λ)``; with ``target``, through that target's prediction and inversions."""
    return CountingDenoiser(mixture, scaler, target)


def reference_solution(
    mixture: GaussianMixture,
    x_start: Tensor,
    logsnr_start: float,
    logsnr_end: float,
    scaler: Any,
    *,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    sigma_stop: float = 1e-9,
) -> Tensor:
    """x at λ_end on the probability-flow ODE through x_start at λ_start (float64, DOP853).

    ``mixture`` is anything with the mixture's ``posterior_mean(x, a, b)``: a
    ``GuidedDenoiser`` gives the guided ODE's solution. λ_start may be −∞ (x_start is then b·ε, pure noise) and λ_end may be +∞ (the
    result is then clean data, x = a·x0 with a = 1 for the built-in scalers).
    """
    from scipy.integrate import solve_ivp  # the bench/test extra

    shape = x_start.shape
    n = shape[0]
    x = x_start.reshape(n, -1).to(torch.float64)
    lam0 = torch.tensor([logsnr_start], dtype=torch.float64)
    a0, b0 = (v.to(torch.float64) for v in scaler(lam0))
    a0f, b0f = float(a0), float(b0)
    lam_end = float(logsnr_end)
    eta_end = min(lam_end / 2, -math.log(sigma_stop))
    # phase 1: z = x/b in u = a/b, while λ < 0
    if logsnr_start < 0:
        u0 = 0.0 if math.isinf(logsnr_start) else math.exp(logsnr_start / 2)
        u1 = min(1.0, math.exp(eta_end))
        z = (x / b0f).reshape(-1)

        def fz(u: float, zz) -> Any:
            zt = torch.from_numpy(zz).reshape(n, -1)
            return mixture.posterior_mean(zt, u, 1.0).reshape(-1).numpy()

        if u1 > u0:
            sol = solve_ivp(fz, (u0, u1), z.numpy(), method="DOP853", rtol=rtol, atol=atol)
            z = torch.from_numpy(sol.y[:, -1])
        eta = math.log(u1)
        y = z.reshape(n, -1) / u1  # x/a = (x/b)/(a/b)
    else:
        eta = logsnr_start / 2
        y = x / a0f
    # phase 2: y = x/a in η = λ/2
    if eta_end > eta:

        def fy(e: float, yy) -> Any:
            yt = torch.from_numpy(yy).reshape(n, -1)
            return (mixture.posterior_mean(yt, 1.0, math.exp(-e)) - yt).reshape(-1).numpy()

        sol = solve_ivp(fy, (eta, eta_end), y.reshape(-1).numpy(), method="DOP853", rtol=rtol, atol=atol)
        y = torch.from_numpy(sol.y[:, -1]).reshape(n, -1)
    if math.isinf(lam_end):
        y = mixture.posterior_mean(y, 1.0, math.exp(-eta_end))
    a_end = float(scaler(torch.tensor([lam_end], dtype=torch.float64))[0][0])
    return (a_end * y).reshape(shape)


def rms_error(x: Tensor, ref: Tensor) -> float:
    """Root-mean-square error over every coordinate of every sample."""
    return float(((x.to(torch.float64) - ref.to(torch.float64)) ** 2).mean().sqrt())
