"""GDF.diffuse and GDF.sample against the original GDF's outputs (tests/data/seed_components.json)."""

from __future__ import annotations

import pytest
import torch

from gdf_core import GDF
from golden import case_id, cases_of

RTOL, ATOL = 1e-4, 1e-5


def _tensor(values):
    return torch.tensor(values, dtype=torch.float32)


@pytest.mark.parametrize("case", cases_of("diffuse"), ids=case_id)
def test_diffuse_matches_original(case):
    gdf = GDF.from_spec(case["name"])
    inputs = case["inputs"]
    x0, eps = _tensor(inputs["x0"]), _tensor(inputs["epsilon"])
    noised, epsilon, target, logsnr, cond, weight = gdf.diffuse(
        x0, epsilon=eps, t=_tensor(inputs["t"]), shift=inputs["shift"], loss_shift=inputs["loss_shift"]
    )
    outputs = case["outputs"]
    torch.testing.assert_close(epsilon, eps)
    for name, got in [("noised", noised), ("target", target), ("logsnr", logsnr), ("noise_cond", cond), ("loss_weight", weight)]:
        torch.testing.assert_close(got, _tensor(outputs[name]), rtol=RTOL, atol=ATOL, msg=lambda m, n=name: f"{n}: {m}")


def golden_model(x, noise_cond, cond=None):
    """The stand-in model the golden values were made with: 0.3·x + 0.05·c (+ 0.2·cond), per sample."""
    view = (-1,) + (1,) * (x.dim() - 1)
    pred = 0.3 * x + 0.05 * noise_cond.view(view)
    if cond is not None:
        pred = pred + 0.2 * cond.view(view)
    return pred


@pytest.mark.parametrize("case", cases_of("sample"), ids=case_id)
def test_sample_matches_original(case):
    gdf = GDF.from_spec(case["name"])
    inputs = case["inputs"]
    x_init = _tensor(inputs["x_init"])
    model_inputs = {} if inputs["cond"] is None else {"cond": _tensor(inputs["cond"])}
    *_, (x0, x, _pred) = gdf.sample(
        golden_model, model_inputs, x_init.shape, x_init=x_init, sampler=inputs["sampler"], **inputs["sample_kwargs"]
    )
    torch.testing.assert_close(x0, _tensor(case["outputs"]["x0"]), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(x, _tensor(case["outputs"]["x"]), rtol=RTOL, atol=ATOL)
