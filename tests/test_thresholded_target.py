"""The thresholded target: x̂0 clipped or dynamically thresholded (Saharia et al. 2022, §2.3), ε̂ after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gdf_core import build
from gdf_core.errors import SpecError

X = torch.tensor([[0.5, -3.0, 2.0, 0.1], [4.0, -0.2, 0.3, -1.5]], dtype=torch.float64)
A = torch.tensor([[0.6], [0.8]], dtype=torch.float64)
B = torch.sqrt(1 - A * A)


def _eps_pred_for(x0: torch.Tensor) -> torch.Tensor:
    """The ε-prediction whose x̂0 at (X, A, B) is ``x0``."""
    return (X - A * x0) / B


def test_clip_limits_x0_to_its_range_and_keeps_the_rest() -> None:
    t = build("target", {"name": "thresholded", "method": "clip", "clip_range": 1.0})
    raw = torch.tensor([[0.5, -3.0, 2.0, 0.1], [4.0, -0.2, 0.3, -1.5]], dtype=torch.float64)
    got = t.x0(X, _eps_pred_for(raw), None, A, B)
    torch.testing.assert_close(got, torch.tensor([[0.5, -1.0, 1.0, 0.1], [1.0, -0.2, 0.3, -1.0]], dtype=torch.float64))


def test_dynamic_thresholding_divides_by_the_clamped_quantile_of_each_sample() -> None:
    t = build("target", {"name": "thresholded", "method": "dynamic", "ratio": 0.75, "max_value": 3.0})
    raw = torch.tensor([[0.5, -3.0, 2.0, 0.1], [0.4, -0.2, 0.3, -0.5]], dtype=torch.float64)
    got = t.x0(X, _eps_pred_for(raw), None, A, B)
    for i, row in enumerate(raw.numpy()):
        s = min(max(np.quantile(np.abs(row), 0.75), 1.0), 3.0)  # sample 2: every |x0| < 1, so s = 1
        np.testing.assert_allclose(got[i].numpy(), np.clip(row, -s, s) / s, rtol=1e-12)


def test_the_noise_estimate_is_the_models_or_the_one_consistent_with_the_limited_x0() -> None:
    raw = torch.full_like(X, 5.0)
    pred = _eps_pred_for(raw)
    model = build("target", {"name": "thresholded", "method": "clip", "noise": "model"})
    consistent = build("target", {"name": "thresholded", "method": "clip", "noise": "consistent"})
    torch.testing.assert_close(model.epsilon(X, pred, None, A, B), pred)
    torch.testing.assert_close(consistent.epsilon(X, pred, None, A, B), (X - A * 1.0) / B)


def test_training_is_the_base_predictions() -> None:
    x0, eps = torch.randn(2, 4, dtype=torch.float64) * 3, torch.randn(2, 4, dtype=torch.float64)
    for base in ("epsilon", "v", "x0"):
        t = build("target", {"name": "thresholded", "prediction": base})
        torch.testing.assert_close(t(x0, eps, None, A, B), build("target", base)(x0, eps, None, A, B))


@pytest.mark.parametrize("bad", [{"ratio": 0.0}, {"ratio": 1.5}, {"max_value": 0.5}, {"clip_range": 0.0}, {"method": "tanh"}])
def test_out_of_domain_parameters_are_refused_by_name(bad: dict) -> None:
    with pytest.raises(SpecError, match=next(iter(bad))):
        build("target", {"name": "thresholded", **bad})
