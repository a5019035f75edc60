"""The guided oracle: exact class-conditional and unconditional posteriors, the guided ODE's reference, samplers converging to it."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.integrate import solve
from gdf_core.testing.oracle import ClassConditionalMixture, GaussianMixture, GuidedDenoiser, reference_solution, rms_error
from gdf_plugins.guidance import APG, CFG, Autoguidance, CFGZeroStar
from gdf_plugins.samplers import DPMPP2MSampler
from gdf_plugins.scalers import VPScaler
from gdf_plugins.targets import EpsilonTarget, VTarget

pytest.importorskip("scipy")

MIX = ClassConditionalMixture.random(dim=2, classes=2, per_class=2, seed=3, std_range=(0.2, 0.5))
SCALER = VPScaler()
LABELS = torch.tensor([0, 1, 0, 1, 1, 0])
X = torch.randn(6, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 6.0
LAM0, LAM1 = -2 * math.log(6.0), 6.0
TOL = dict(rtol=1e-8, atol=1e-8)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors, many calls: one thread avoids the thread pool's overhead on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def class_mixture(c: int) -> GaussianMixture:
    keep = MIX.classes == c
    return GaussianMixture(MIX.means[keep], MIX.stds[keep], MIX.weights[keep])


def test_conditional_posterior_mean_is_that_of_the_class_mixture():
    x = torch.randn(6, 2, dtype=torch.float64)
    for a, b in [(0.3, 0.95), (0.8, 0.6)]:
        got = MIX.conditional_posterior_mean(x, a, b, LABELS)
        for c in (0, 1):
            rows = LABELS == c
            torch.testing.assert_close(got[rows], class_mixture(c).posterior_mean(x[rows], a, b))
        torch.testing.assert_close(MIX.conditional_posterior_mean(x[:1], a, b, torch.tensor([0])), class_mixture(0).score_free_check(x[:1], a, b, n_mc=200_000), atol=0.03, rtol=0)


def test_class_draws_come_from_their_class():
    draws = MIX.sample_class(torch.tensor([0] * 2000 + [1] * 2000), torch.Generator().manual_seed(0))
    for c, part in ((0, draws[:2000]), (1, draws[2000:])):
        m = class_mixture(c)
        torch.testing.assert_close(part.mean(0), (m.weights[:, None] * m.means).sum(0), atol=0.05, rtol=0)


@pytest.mark.parametrize("target", [EpsilonTarget(), VTarget()], ids=["epsilon", "v"])
def test_guided_ode_at_scale_1_is_the_conditional_ode(target):
    """The guided reference at w = 1 against the plain reference of each class's own mixture."""
    den = GuidedDenoiser(MIX, CFG(scale=1.0), SCALER, target, LABELS)
    guided = reference_solution(den, X, LAM0, LAM1, SCALER, **TOL)
    for c in (0, 1):
        rows = LABELS == c
        plain = reference_solution(class_mixture(c), X[rows], LAM0, LAM1, SCALER, **TOL)
        torch.testing.assert_close(guided[rows], plain, atol=1e-6, rtol=0)


def test_autoguidance_with_the_model_as_its_own_guide_follows_the_conditional_ode():
    den = GuidedDenoiser(MIX, Autoguidance(scale=3.0), SCALER, EpsilonTarget(), LABELS, guide=MIX)
    plain = GuidedDenoiser(MIX, CFG(scale=1.0), SCALER, EpsilonTarget(), LABELS)
    x = X[:, :] / 6.0
    lam = torch.full((6,), 0.5, dtype=torch.float64)
    torch.testing.assert_close(den(x, lam)[0], plain(x, lam)[0], rtol=0, atol=0)


@pytest.mark.parametrize(
    "guidance",
    [CFG(scale=4.0), CFG(scale=4.0, rescale=0.7), APG(scale=6.0, norm_threshold=3.0), CFGZeroStar(scale=4.0, zero_init_steps=0), Autoguidance(scale=2.5)],
    ids=["cfg", "cfg_rescale", "apg", "cfg_zero_star", "autoguidance"],
)
def test_dpmpp_2m_converges_to_the_guided_reference(guidance):
    den = GuidedDenoiser(MIX, guidance, SCALER, EpsilonTarget(), LABELS, guide=MIX.widened(1.5))
    ref = reference_solution(den, X, LAM0, LAM1, SCALER, **TOL)
    errors = []
    for steps in (8, 16, 32, 64):
        grid = torch.linspace(LAM0, LAM1, steps + 1, dtype=torch.float64)
        run = GuidedDenoiser(MIX, guidance, SCALER, EpsilonTarget(), LABELS, guide=MIX.widened(1.5))
        errors.append(rms_error(solve(DPMPP2MSampler(), run, X.clone(), grid, scaler=SCALER), ref))
    assert all(later < 0.5 * earlier for earlier, later in zip(errors, errors[1:])), errors  # second order: ~¼ per doubling
    assert errors[-1] < 3e-3, errors


def test_guidance_moves_the_ode_solution_off_the_conditional_one():
    """The reference is not the conditional ODE's: high scales push the samples further from the class mean."""
    plain = reference_solution(GuidedDenoiser(MIX, CFG(scale=1.0), SCALER, EpsilonTarget(), LABELS), X, LAM0, LAM1, SCALER, **TOL)
    guided = reference_solution(GuidedDenoiser(MIX, CFG(scale=4.0), SCALER, EpsilonTarget(), LABELS), X, LAM0, LAM1, SCALER, **TOL)
    assert rms_error(guided, plain) > 0.05
