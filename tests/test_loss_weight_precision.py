"""Loss weights are computed and returned in float32 at least: an fp16 weight is inf at high (or low) λ."""

from __future__ import annotations

import pytest
import torch

from gdf_core import GDF



@pytest.mark.parametrize(
    "loss_weight",
    ["snr", "snr_plus_one", "truncated_snr", "debiased", {"name": "composed", "mul": ["snr"], "div": ["sigmoid"]}],
    ids=str,
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_diffuse_gives_a_finite_float32_weight_for_half_precision_data(loss_weight, dtype):
    gdf = GDF.from_spec({"preset": "v_prediction", "schedule": {"name": "linear", "logsnr_range": [-40, 40]},
                         "loss_weight": loss_weight})
    x0 = torch.randn(4, 3).to(dtype)
    t = torch.tensor([0.0, 0.1, 0.9, 1.0])  # λ = 40, 32, −32, −40: e^λ and e^(−λ/2) are past fp16's 65504
    *_, weight = gdf.diffuse(x0, t=t)
    assert weight.dtype == torch.float32
    assert torch.isfinite(weight).all(), weight
    noised = gdf.diffuse(x0, t=t)[0]
    assert noised.dtype == dtype  # the data keep their dtype


def test_a_float64_weight_stays_float64():
    gdf = GDF.from_spec("stable_cascade")
    *_, weight = gdf.diffuse(torch.randn(2, 3, dtype=torch.float64))
    assert weight.dtype == torch.float64
