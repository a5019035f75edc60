"""Recipe-independent preconditioning of the demo's denoiser (after Karras et al. 2022, §5).

Whatever the recipe, the network sees a unit-variance input and predicts a
unit-variance quantity; a fixed conversion turns that into the recipe's target.
With σ_d the data's scale and ``noised = a·x0 + b·ε``::

    r = √(a²σ_d² + b²),  cos φ = a·σ_d / r,  sin φ = b / r
    x_in = noised / r                       (unit variance: the input)
    F ≈ cos φ·ε − sin φ·x0/σ_d              (unit variance: the output, a "v")
    x0/σ_d = cos φ·x_in − sin φ·F,   ε = sin φ·x_in + cos φ·F

No step divides by a small number, so ε-, x0-, v- and flow-targets are all
well conditioned at every noise level. The network is told the noise level as
c = −λ/8 (EDM's c_noise = ¼·log σ), not as the recipe's own noise condition.

The coefficients come from the GDF's public API alone: a probe GDF, built from
the recipe's spec with its schedule replaced by one linear in λ over
``logsnr_range``, ``diffuse``-s x0 = 1, ε = 0 and the reverse on a fine grid of
t, which gives λ, the noise condition, a and b, and the target's two
coefficients p, q (target = p·x0 + q·ε; checked to be linear). The model is
called with the recipe's noise condition, so the grid is indexed by it (it
must be strictly monotone in λ) and interpolated; beyond the grid's ends the
end values hold (a, b, p and q are flat there to float precision).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gdf_core.gdf import GDF


class RecipeTable(nn.Module):
    """λ, a, b, p, q of a GDF as functions of its noise condition, read off ``diffuse`` on a t grid."""

    def __init__(self, gdf: GDF, points: int = 4001, logsnr_range: tuple[float, float] = (-20.0, 20.0)) -> None:
        super().__init__()
        spec = gdf.to_spec()
        probe = GDF.from_spec({**spec, "schedule": {"name": "linear", "logsnr_range": list(logsnr_range)}})
        t = torch.linspace(0, 1, points, dtype=torch.float64)
        gdf = probe
        zeros, ones = torch.zeros(points, 1, dtype=torch.float64), torch.ones(points, 1, dtype=torch.float64)
        a_out = gdf.diffuse(ones, zeros, t=t)  # noised = a, target = p
        b_out = gdf.diffuse(zeros, ones.clone(), t=t)  # noised = b, target = q
        mix = gdf.diffuse(2 * ones, 3 * ones, t=t)  # target(2, 3) = 2p + 3q if the target is linear
        logsnr, cond = a_out[3], a_out[4].to(torch.float64).reshape(-1)
        a, p, b, q = a_out[0][:, 0], a_out[2][:, 0], b_out[0][:, 0], b_out[2][:, 0]
        keep = torch.isfinite(logsnr) & torch.isfinite(cond) & torch.isfinite(a) & torch.isfinite(b) & torch.isfinite(p) & torch.isfinite(q)
        if int(keep.sum()) < 2:
            raise ValueError(f"the recipe's components give no finite coefficients on λ ∈ {logsnr_range}")
        if not torch.allclose(mix[2][:, 0][keep], (2 * p + 3 * q)[keep], rtol=1e-6, atol=1e-9):
            raise ValueError(f"the target {spec['target']!r} is not linear in (x0, ε): the demo cannot precondition it")
        columns = [v[keep] for v in (cond, logsnr.to(torch.float64), a, b, p, q)]
        flat = columns[0].diff() == 0  # a clamped schedule repeats its ends: drop the repeats
        if bool((columns[1].diff()[flat] != 0).any()):
            raise ValueError(
                f"the noise condition {spec['noise_cond']!r} gives one value for several noise levels: "
                "the demo cannot tell the noise level from it (use precondition=False)"
            )
        columns = [torch.cat([v[:1], v[1:][~flat]]) for v in columns]
        steps = columns[0].diff()
        if len(steps) < 1 or not (bool((steps > 0).all()) or bool((steps < 0).all())):
            raise ValueError(
                f"the noise condition {spec['noise_cond']!r} is not strictly monotone in t: "
                "the demo cannot tell the noise level from it (use precondition=False)"
            )
        if bool(steps[0] < 0):
            columns = [v.flip(0) for v in columns]
        self.cond: Tensor
        self.values: Tensor
        self.register_buffer("cond", columns[0], persistent=False)
        self.register_buffer("values", torch.stack(columns[1:], dim=1), persistent=False)

    def forward(self, cond: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(λ, a, b, p, q) in float32, each of shape (B,), interpolated at ``cond`` (clamped to the grid's ends)."""
        c = cond.to(torch.float64).reshape(-1).clamp(self.cond[0], self.cond[-1])
        hi = torch.searchsorted(self.cond, c).clamp(1, len(self.cond) - 1)
        lo = hi - 1
        w = ((c - self.cond[lo]) / (self.cond[hi] - self.cond[lo])).unsqueeze(1)
        v = torch.lerp(self.values[lo], self.values[hi], w).to(torch.float32)
        return v[:, 0], v[:, 1], v[:, 2], v[:, 3], v[:, 4]


class Preconditioned(nn.Module):
    """``model(noised, noise_cond) -> the recipe's target``, through a network ``net(x_in, c_noise) -> F``."""

    def __init__(self, net: nn.Module, gdf: GDF, sigma_data: float = 1.0) -> None:
        super().__init__()
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be positive, got {sigma_data!r}")
        self.net = net
        self.table = RecipeTable(gdf)
        self.sigma_data = float(sigma_data)

    def forward(self, x: Tensor, noise_cond: Tensor) -> Tensor:
        cond = noise_cond.expand(x.shape[0]) if noise_cond.dim() == 0 else noise_cond
        logsnr, a, b, p, q = (v.unsqueeze(1) for v in self.table(cond))
        s = self.sigma_data
        r = torch.sqrt((a * s) ** 2 + b**2)
        cos, sin = a * s / r, b / r
        x_in = x / r
        f = self.net(x_in, -logsnr[:, 0] / 8)
        x0 = s * (cos * x_in - sin * f)
        eps = sin * x_in + cos * f
        return p * x0 + q * eps


__all__ = ["Preconditioned", "RecipeTable"]
