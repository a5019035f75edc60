"""The diffusers_* samplers at the ends of gdf's grids, which diffusers' grids never reach.

From pure noise (λ = −∞, σ = ∞) and into clean data (λ′ = +∞, σ′ = 0) each step
is the limit of the same step between finite levels: checked against runs whose
end levels are finite but far out.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from gdf_core import registry
from gdf_core.integrate import solve
from gdf_plugins.scalers import VPScaler

SCALER = VPScaler()


def _denoise(x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """v-prediction of a smooth model: finite x̂0 and ε̂ at every λ, ±∞ included."""
    a, b = (v.view(-1, 1) for v in SCALER(logsnr))
    v = 0.3 * torch.tanh(x) + 0.1 * torch.tanh(logsnr / 8).view(-1, 1)
    return a * x - b * v, b * x + a * v


def _run(name: str, grid: list[float], **params: object) -> Tensor:
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    logsnrs = torch.tensor(grid, dtype=torch.float64)[:, None].expand(-1, 3).contiguous()
    return solve(registry.get("sampler", name)(**params), _denoise, x, logsnrs, scaler=SCALER)


INNER = torch.linspace(-8.0, 8.0, 18).tolist()


@pytest.mark.parametrize("order", [1, 2, 3])
def test_diffusers_deis_into_clean_data_is_the_limit_of_far_last_levels(order: int) -> None:
    """λ′ = +∞ (ρ′ = 0, the primitives' ρ·log ρ terms 0) against λ′ = 200 (ρ′ = e^−100); 20 steps: no lower-order last step."""
    params = {"solver_order": order, "lower_order_final": False}
    end = _run("diffusers_deis", INNER + [math.inf], **params)
    near = _run("diffusers_deis", INNER + [200.0], **params)
    assert torch.isfinite(end).all()
    torch.testing.assert_close(end, near, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_diffusers_deis_from_pure_noise_is_the_limit_of_far_first_levels(order: int) -> None:
    """λ = −∞ is taken at ρ = e^40, as gdf's own samplers take it (``ETA_FLOOR``): the run from λ = −80."""
    params = {"solver_order": order}
    start = _run("diffusers_deis", [-math.inf] + INNER, **params)
    assert torch.isfinite(start).all()
    torch.testing.assert_close(start, _run("diffusers_deis", [-80.0] + INNER, **params), rtol=1e-9, atol=1e-9)


def test_diffusers_heun_from_pure_noise_takes_its_euler_stage() -> None:
    """The first step from σ = ∞ is a′·x̂0 + b′·ε̂; later steps are Heun's, as between finite levels."""
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    first = _run("diffusers_heun", [-math.inf, -2.0])  # one step: the last one, Euler (diffusers' rule)
    x0, eps = _denoise(x, torch.full((3,), -math.inf, dtype=torch.float64))
    a, b = (v.view(-1, 1) for v in SCALER(torch.full((3,), -2.0, dtype=torch.float64)))
    torch.testing.assert_close(first, a * x0 + b * eps)
    two = _run("diffusers_heun", [-math.inf, -2.0, 1.0])  # a step from σ = ∞ (its Euler stage), then the last, Euler
    x0, eps = _denoise(first, torch.full((3,), -2.0, dtype=torch.float64))
    a, b = (v.view(-1, 1) for v in SCALER(torch.full((3,), 1.0, dtype=torch.float64)))
    torch.testing.assert_close(two, a * x0 + b * eps)
    # From a far finite level the trapezoid is taken, and its σ-step of e^40 runs away: why σ = ∞ is not that limit.
    assert _run("diffusers_heun", [-80.0, -2.0, 1.0]).abs().max() > 1e10
    assert torch.isfinite(_run("diffusers_heun", [-math.inf] + INNER + [math.inf])).all()


# -- every diffusers_* multistep option on every preset's grid: finite, or refused by name ------------------

MIRROR_OPTIONS = [
    *({"name": "diffusers_unipc", "solver_order": o, "solver_type": t, "lower_order_final": lf}
      for o in (1, 2, 3) for t in ("bh1", "bh2") for lf in (True, False)),
    *({"name": "diffusers_dpmsolver", "solver_order": o, "algorithm_type": a, "lower_order_final": lf, "final_sigmas_type": f}
      for o in (1, 2, 3) for a in ("dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver") for lf in (True, False)
      for f in ("zero", "sigma_min") if not (o == 3 and a == "sde-dpmsolver")),
    *({"name": "diffusers_deis", "solver_order": o, "lower_order_final": lf} for o in (1, 2, 3) for lf in (True, False)),
]


@pytest.mark.parametrize("preset", ["stable_cascade", "ddpm", "v_prediction", "edm", "edm2", "rectified_flow", "sd3"])
def test_every_diffusers_multistep_option_is_finite_or_refused_on_the_presets_grids(preset: str) -> None:
    """The presets' grids start at λ = −∞ or end at λ′ = +∞, where diffusers never steps. There the mirrors gave
    all-NaN (∞/∞ in a step ratio, a singular UniPC system) or a raw LinAlgError; now every option is finite or
    refused with a message naming the sampler."""
    from gdf_core import GDF

    gdf = GDF.from_spec(preset)
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    failures = []
    for sampler in MIRROR_OPTIONS:
        for steps in (1, 2, 3, 16):
            try:
                out = gdf.sample_final(lambda x, c: torch.tanh(x) * 0.5, {}, x.shape, timesteps=steps, cfg=None, x_init=x,
                                       sampler=sampler, generator=torch.Generator().manual_seed(1))
            except ValueError as exc:
                if f"sampler {sampler['name']!r}" not in str(exc):
                    failures.append(f"{sampler} at {steps}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 — what the test looks for
                failures.append(f"{sampler} at {steps}: {type(exc).__name__}: {exc}")
                continue
            if not bool(torch.isfinite(out).all()):
                failures.append(f"{sampler} at {steps}: not finite")
    assert not failures, f"{len(failures)} failures, e.g. " + "; ".join(failures[:3])


def test_diffusers_dpmsolver_into_clean_data_drops_its_extrapolating_terms() -> None:
    """Into λ′ = +∞ the order-2 and -3 terms grow without bound (D1 ∝ h): they drop out, and the last step is the
    first-order one (what ``euler_at_final`` asks for), bit for bit; the order-3 term gave ∞/∞ = NaN."""
    grid = INNER + [math.inf]
    for algorithm in ("dpmsolver++", "sde-dpmsolver++"):
        params = {"solver_order": 3, "algorithm_type": algorithm, "lower_order_final": False, "final_sigmas_type": "sigma_min"}
        torch.manual_seed(0)
        full = _run("diffusers_dpmsolver", grid, **params)
        torch.manual_seed(0)
        first_order = _run("diffusers_dpmsolver", grid, **params, euler_at_final=True)
        assert torch.isfinite(full).all()
        assert torch.equal(full, first_order)


def test_the_mirrors_say_what_they_cannot_do_at_infinite_ends() -> None:
    with pytest.raises(ValueError, match="noise-form 'dpmsolver' cannot step from pure noise"):
        _run("diffusers_dpmsolver", [-math.inf] + INNER, algorithm_type="dpmsolver", final_sigmas_type="sigma_min")
    with pytest.raises(ValueError, match="bh1 correcting a first step from pure noise"):
        _run("diffusers_unipc", [-math.inf] + INNER, solver_type="bh1")
    assert torch.isfinite(_run("diffusers_unipc", [-math.inf] + INNER + [math.inf], solver_order=3, lower_order_final=False)).all()
