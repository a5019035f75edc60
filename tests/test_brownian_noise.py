"""Brownian noise in λ: the same seed gives nearly the same sample at different step counts, per sample."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("torchsde")

from gdf_core import GDF  # noqa: E402
from gdf_core.brownian import BrownianNoise  # noqa: E402
from gdf_core.noise import randn_like  # noqa: E402

SDE_SAMPLERS = ["euler_ancestral", "dpmpp_2m_sde", "dpmpp_2s_ancestral"]
GRID = {"name": "karras", "sigma_min": 0.03, "sigma_max": 14.6}


def model(x, cond):
    """A smooth nonlinear ε-model (not the oracle)."""
    return torch.tanh(0.7 * x) * 0.8


def sample(sampler, steps, generator, batch=4, dim=2):
    gdf = GDF.from_spec({"preset": "ddpm", "sample_schedule": GRID})
    x = None
    for _, x, _ in gdf.sample(model, {}, (batch, dim), sampler=sampler, timesteps=steps, cfg=None,
                              generator=generator, dtype=torch.float64):
        pass
    return x


def _label(s):
    return s if isinstance(s, str) else s["name"] + "-eta"


@pytest.mark.parametrize("sampler", SDE_SAMPLERS, ids=_label)
def test_same_seed_at_20_and_40_steps_is_closer_than_independent_noise(sampler):
    seeds = list(range(100, 104))
    brown20 = sample(sampler, 20, BrownianNoise(seeds))
    brown40 = sample(sampler, 40, BrownianNoise(seeds))
    # today's noise, the same seeds: per-sample torch generators, a fresh draw per step
    indep20 = sample(sampler, 20, [torch.Generator().manual_seed(s) for s in seeds])
    indep40 = sample(sampler, 40, [torch.Generator().manual_seed(s) for s in seeds])
    d_brown = (brown20 - brown40).norm() / brown40.norm()
    d_indep = (indep20 - indep40).norm() / indep40.norm()
    assert torch.isfinite(brown20).all() and torch.isfinite(brown40).all()
    assert d_brown < 0.5 * d_indep, (float(d_brown), float(d_indep))


@pytest.mark.parametrize("sampler", ["euler_ancestral", "dpmpp_2m_sde"])
def test_a_sample_does_not_depend_on_its_batch(sampler):
    alone = sample(sampler, 12, BrownianNoise([42]), batch=1)
    batch = sample(sampler, 12, BrownianNoise([7, 42, 9]), batch=3)
    torch.testing.assert_close(batch[1:2], alone, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(batch[0], batch[1])


def test_increments_are_standard_normal_and_add_up_along_the_path():
    noise = BrownianNoise.from_seed(0, 300, shape=(1,))
    like = torch.zeros(300, 1, dtype=torch.float64)
    z = noise.increment(like, torch.tensor(-2.0), torch.tensor(1.0))
    assert abs(float(z.mean())) < 0.2 and abs(float(z.std()) - 1) < 0.15
    fresh = BrownianNoise.from_seed(0, 300, shape=(1,))
    a = fresh.increment(like, torch.tensor(-2.0), torch.tensor(-0.5)) * math.sqrt(1.5)
    b = fresh.increment(like, torch.tensor(-0.5), torch.tensor(1.0)) * math.sqrt(1.5)
    torch.testing.assert_close((a + b) / math.sqrt(3.0), z, rtol=1e-4, atol=1e-4)


def test_a_sampler_that_does_not_name_its_step_gets_a_clear_error():
    with pytest.raises(TypeError, match="logsnrs"):
        randn_like(torch.zeros(2, 3), BrownianNoise([1, 2]))


@pytest.mark.parametrize(
    "kwargs, says",
    [({"seeds": []}, "one seed per sample"), ({"seeds": [1], "logsnr_min": 5.0, "logsnr_max": 5.0}, "logsnr_min"),
     ({"seeds": [1], "tol": 0.0}, "tol")],
)
def test_bad_parameters_are_refused(kwargs, says):
    with pytest.raises(ValueError, match=says):
        BrownianNoise(**kwargs)


def test_batch_size_must_match_the_seeds():
    with pytest.raises(ValueError, match="2 seeds but the batch has 3"):
        randn_like(torch.zeros(3, 2), BrownianNoise([1, 2]), logsnrs=(torch.tensor(0.0), torch.tensor(1.0)))
