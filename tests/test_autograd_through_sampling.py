"""Backpropagating through a sampling run: gradients are finite wherever the run is.

A user differentiates a few sampling steps (gradient-based guidance, fine-tuning
through the sampler, an inversion objective). A formula that divides by zero in a
branch ``torch.where`` does not take gives a finite run and a NaN gradient
(0·inf in the backward pass): the grid ends at λ = −∞ (a = 0), repeated levels of
a clamped grid (a zero distance), a guidance whose Δ is 0. Every preset × every
built-in sampler here, cfg on, with x_init, the condition and the model's weights
requiring grad; then the cases that found such branches.
"""

from __future__ import annotations

import pytest
import torch

from gdf_core import GDF, registry
from gdf_plugins.presets import PRESETS

SAMPLERS = registry.builtin_names("sampler")


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.3, -0.2]))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.w[0] * torch.tanh(x) + self.w[1] * label.view(-1, 1) * torch.tanh(cond.float()).view(-1, 1)


def _gradients(gdf: GDF, sampler: str, timesteps: int, **kwargs) -> list[torch.Tensor]:
    model = Model()
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    label = torch.ones(2, requires_grad=True)
    torch.manual_seed(1)
    out = gdf.sample_final(model, {"label": label}, None, sampler=sampler, timesteps=timesteps, x_init=x, **kwargs)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    return [x.grad, label.grad, model.w.grad]


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_sampler_on_every_preset_backpropagates_finite_gradients(preset: str, sampler: str) -> None:
    grads = _gradients(GDF.from_spec(preset), sampler, 4, cfg=2.0)
    assert all(g is not None and torch.isfinite(g).all() for g in grads), [g for g in grads]


@pytest.mark.parametrize("sampler", ["diffusers_deis", "diffusers_unipc", "diffusers_dpmsolver", "dpmpp_3m", "unipc", "deis", "lms"])
def test_repeated_levels_of_a_clamped_grid_give_finite_gradients(sampler: str) -> None:
    """stable_cascade's clamped cosine repeats its end levels from about 156 steps on (a zero distance)."""
    grads = _gradients(GDF.from_spec("stable_cascade"), sampler, 200, cfg=None)
    assert all(torch.isfinite(g).all() for g in grads)


def test_apg_with_a_norm_threshold_has_finite_gradients_where_the_condition_changes_nothing() -> None:
    """Δ = 0 for a sample whose label is 0: the threshold's r/‖Δ‖ must not reach the backward pass as inf."""
    model = Model()
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    label = torch.tensor([0.0, 1.0])
    out = GDF.from_spec("v_prediction").sample_final(
        model, {"label": label}, None, sampler="ddim", timesteps=3, x_init=x,
        unconditional_inputs={"label": torch.zeros(2)}, guidance={"name": "apg", "norm_threshold": 1.0},
    )
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(model.w.grad).all()
