"""The moments of the exponential integrators (data and noise prediction) for steps either way: towards data (H > 0, α ≤ 1)
and towards noise (H < 0, α > 1: an inversion), against Gauss–Legendre quadrature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gdf_plugins.samplers.maths.interpolation import t_moments
from gdf_plugins.samplers.maths.phi_moments import data_moments, noise_moments

NODES, WEIGHTS = np.polynomial.legendre.leggauss(200)
S = (NODES + 1) / 2  # on [0, 1]


def _quad(values: np.ndarray) -> float:
    return float(np.sum(WEIGHTS * values) / 2)


@pytest.mark.parametrize("H", [40.0, 2.0, 1.0, 0.5, 1e-9, 0.0, -1e-9, -0.3, -0.99, -1.0, -2.5, -10.0, -20.0, -40.0])
def test_data_moments(H: float) -> None:
    """μ_k = H·∫_0^1 e^(−H(1−s))·s^k ds; the power series alone is 28 % off at H = −20, 100 % at −40."""
    got = [v.item() for v in data_moments(torch.tensor([H], dtype=torch.float64), 4)]
    for k, g in enumerate(got):
        assert g == pytest.approx(_quad(H * np.exp(-H * (1 - S)) * S**k), rel=1e-11, abs=1e-300), (H, k)


@pytest.mark.parametrize("h", [40.0, 2.0, 1.0, 0.5, 1e-9, 0.0, -1e-9, -0.3, -0.99, -1.0, -2.5, -10.0, -20.0, -40.0])
def test_noise_moments(h: float) -> None:
    """ν_k = h·∫_0^1 e^(−h·s)·s^k ds (DEIS's log-ρ kernel); towards noise (h < 0) as for μ_k."""
    got = [v.item() for v in noise_moments(torch.tensor([h], dtype=torch.float64), 4)]
    for k, g in enumerate(got):
        assert g == pytest.approx(_quad(h * np.exp(-h * S) * S**k), rel=1e-11, abs=1e-300), (h, k)


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.3, 0.5, 0.7, 1.0, 1.2, 1.5, 1.6, 3.0, 20.0, 300.0])
def test_t_moments(alpha: float) -> None:
    """Q_k(α) = ∫_0^1 (r/(α + (1 − α)·r))^k dr, α = t′/t0: above 1 when the step goes towards noise."""
    got = [v.item() for v in t_moments(torch.tensor([alpha], dtype=torch.float64), 5)]
    for k, g in enumerate(got):
        assert g == pytest.approx(_quad((S / (alpha + (1 - alpha) * S)) ** k), rel=1e-9), (alpha, k)
