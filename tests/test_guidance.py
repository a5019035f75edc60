"""The built-in guidances: their identities, their papers' formulas, their parameter domains, their spaces."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.guidance import SPACES, Predictions, from_space, to_space
from gdf_plugins.guidance import APG, CFG, GUIDANCES, Autoguidance, CFGZeroStar
from gdf_plugins.guidance.cfg import rescale_std
from gdf_plugins.scalers import VPScaler
from gdf_plugins.targets import EpsilonTarget, VTarget


def preds(shape=(4, 3, 5), seed=0) -> tuple[Predictions, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c, u, gd, x = (torch.randn(shape, generator=g) for _ in range(4))
    return Predictions(c, u, gd), x, torch.linspace(-3, 3, shape[0])


def call(guidance, p, x, logsnr, *, t=0.5, step=1, state=None):
    state = guidance.init_state() if state is None else state
    return guidance(p, x=x, logsnr=logsnr, t=t, step=step, state=state)


def test_cfg_at_scale_1_is_the_conditional_prediction_exactly():
    p, x, lam = preds()
    assert torch.equal(call(CFG(scale=1.0), p, x, lam), p.conditional)
    assert torch.equal(call(CFG(scale=(1.0, 1.0)), p, x, lam, t=0.3), p.conditional)


def test_cfg_is_the_lerp_of_ho_and_salimans():
    p, x, lam = preds()
    want = p.unconditional + 7.0 * (p.conditional - p.unconditional)
    torch.testing.assert_close(call(CFG(scale=7.0), p, x, lam), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("t", [0.0, 0.25, 0.6, 1.0])
def test_cfg_pair_is_w1_at_t1_and_w0_at_t0_as_the_original(t):
    p, x, lam = preds()
    w = 5.0 * t + 1.5 * (1 - t)  # the original's float(cfg[0])·t + float(cfg[1])·(1 − t)
    assert torch.equal(call(CFG(scale=(5.0, 1.5)), p, x, lam, t=t), torch.lerp(p.unconditional, p.conditional, w))


@pytest.mark.parametrize("t", [0.0, 0.2, 0.3, 0.5, 0.7, 0.71, 1.0])
def test_cfg_interval_is_the_originals_cfg_t_stop_and_cfg_t_start(t):
    stop, start = 0.2, 0.7  # the original guides while t ≥ cfg_t_stop and t ≤ cfg_t_start
    p, x, lam = preds()
    cfg = CFG(scale=4.0, interval=(stop, start))
    guided = stop <= t <= start
    assert cfg.active(t) is guided
    want = torch.lerp(p.unconditional, p.conditional, 4.0) if guided else p.conditional
    assert torch.equal(call(cfg, p, x, lam, t=t), want)


def test_cfg_rescale_matches_each_samples_std_to_the_conditional_one():
    p, x, lam = preds()
    guided = call(CFG(scale=8.0, rescale=1.0), p, x, lam)
    torch.testing.assert_close(guided.flatten(1).std(1), p.conditional.flatten(1).std(1), rtol=1e-5, atol=1e-6)
    partly = call(CFG(scale=8.0, rescale=0.7), p, x, lam)
    plain = call(CFG(scale=8.0), p, x, lam)
    torch.testing.assert_close(partly, 0.7 * guided + 0.3 * plain, rtol=1e-5, atol=1e-5)


def test_cfg_rescale_is_the_originals_formula_per_sample():
    p, x, lam = preds()
    pred = torch.lerp(p.unconditional, p.conditional, 6.0)
    dims = (1, 2)
    # the original's _rescale, with the std taken per sample (its whole-batch std is a documented defect)
    want = 0.7 * (pred * p.conditional.std(dim=dims, keepdim=True) / (pred.std(dim=dims, keepdim=True) + 1e-9)) + 0.3 * pred
    torch.testing.assert_close(call(CFG(scale=6.0, rescale=0.7), p, x, lam), want, rtol=1e-6, atol=1e-6)


def test_cfg_rescale_leaves_samples_of_one_value_unchanged():
    pred = torch.tensor([[2.0], [-1.0]])
    assert torch.equal(rescale_std(pred, torch.tensor([[1.0], [3.0]]), 0.7), pred)


@pytest.mark.parametrize("scale", [2.0, 7.5, (9.0, 3.0)])
def test_apg_with_eta_1_no_threshold_no_momentum_is_cfg(scale):
    p, x, lam = preds()
    apg = APG(scale=scale, eta=1.0, norm_threshold=0.0, momentum=0.0)
    for t in (0.0, 0.5, 1.0):  # c + (w − 1)·(c − u) against torch.lerp: equal up to float32 rounding
        torch.testing.assert_close(call(apg, p, x, lam, t=t), call(CFG(scale=scale), p, x, lam, t=t), rtol=1e-6, atol=1e-6)


def test_apg_with_eta_0_moves_orthogonally_to_the_conditional_prediction():
    p, x, lam = preds()
    update = call(APG(scale=9.0), p, x, lam) - p.conditional
    cos = (update * p.conditional).flatten(1).sum(1) / (update.flatten(1).norm(dim=1) * p.conditional.flatten(1).norm(dim=1))
    assert cos.abs().max() < 1e-5
    assert update.flatten(1).norm(dim=1).min() > 0.1


def test_apg_follows_the_papers_algorithm_1():
    """Sadat et al. 2024, Alg. 1, written out in float64: momentum, norm threshold, projection, update."""
    p, x, lam = preds()
    w, eta, r, beta = 7.0, 0.3, 2.0, -0.5
    apg = APG(scale=w, eta=eta, norm_threshold=r, momentum=beta)
    state = apg.init_state()
    c, u = p.conditional.double(), p.unconditional.double()
    running = torch.zeros_like(c)
    for step in range(3):
        got = call(apg, p, x, lam, step=step, state=state)
        running = (c - u) + beta * running
        diff = running * torch.clamp(r / running.flatten(1).norm(dim=1).view(-1, 1, 1), max=1.0)
        unit = c / c.flatten(1).norm(dim=1).view(-1, 1, 1)
        parallel = (diff * unit).sum(dim=(1, 2), keepdim=True) * unit
        want = c + (w - 1) * ((diff - parallel) + eta * parallel)
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_apg_norm_threshold_bounds_the_update():
    p, x, lam = preds()
    update = (call(APG(scale=5.0, eta=1.0, norm_threshold=0.5), p, x, lam) - p.conditional) / 4.0
    assert update.flatten(1).norm(dim=1).max() <= 0.5 * (1 + 1e-5)


def test_cfg_zero_star_optimised_scale():
    """s* = ⟨c, u⟩/‖u‖² (Fan et al. 2025): u parallel to c gives c back at any w; u ⟂ c gives w·c."""
    c = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    x, lam = torch.zeros_like(c), torch.zeros(3)
    g = CFGZeroStar(scale=6.0, zero_init_steps=0)
    torch.testing.assert_close(call(g, Predictions(c, 0.5 * c), x, lam), c, rtol=1e-5, atol=1e-5)
    u = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    u = u - (u * c).sum(1, keepdim=True) / (c * c).sum(1, keepdim=True) * c
    torch.testing.assert_close(call(g, Predictions(c, u), x, lam), 6.0 * c - 5.0 * 0.0 * u, rtol=1e-4, atol=1e-5)


def test_cfg_zero_star_is_the_papers_formula():
    p, x, lam = preds()
    c, u = p.conditional, p.unconditional
    s = (c * u).sum(dim=(1, 2), keepdim=True) / ((u * u).sum(dim=(1, 2), keepdim=True) + 1e-8)
    want = s * u + 4.0 * (c - s * u)
    torch.testing.assert_close(call(CFGZeroStar(scale=4.0), p, x, lam, step=3), want, rtol=1e-5, atol=1e-5)


def test_cfg_zero_star_zeroes_the_first_steps():
    p, x, lam = preds()
    g = CFGZeroStar(scale=4.0, zero_init_steps=2)
    assert [bool((call(g, p, x, lam, step=s) == 0).all()) for s in range(4)] == [True, True, False, False]


def test_autoguidance_with_the_main_model_as_its_own_guide_is_unguided():
    p, x, lam = preds()
    same = Predictions(p.conditional, guide=p.conditional.clone())
    for scale in (2.0, 0.3, (4.0, 1.0)):
        assert torch.equal(call(Autoguidance(scale=scale), same, x, lam), p.conditional)


def test_autoguidance_extrapolates_away_from_the_guide():
    p, x, lam = preds()
    want = p.guide + 2.5 * (p.conditional - p.guide)
    torch.testing.assert_close(call(Autoguidance(scale=2.5), p, x, lam), want, rtol=1e-6, atol=1e-6)
    assert Autoguidance.branches == ("guide",)


@pytest.mark.parametrize("cls", GUIDANCES)
def test_every_builtin_cites_its_paper_and_declares_its_space(cls):
    assert any(str(year) in (cls.__doc__ or "") + (__import__(cls.__module__).__doc__ or "") for year in (2022, 2024, 2025))
    assert cls.space in SPACES and set(cls.branches) <= {"unconditional", "guide"}


@pytest.mark.parametrize(
    ("cls", "params", "words"),
    [
        (CFG, {"scale": math.nan}, "scale: Input should be a finite number"),
        (CFG, {"scale": True}, "scale: a number is needed, not a boolean"),
        (CFG, {"scale": (1.0, 2.0, 3.0)}, "scale: Input should be a valid number"),
        (CFG, {"rescale": 1.5}, "rescale: Input should be less than or equal to 1; got 1.5"),
        (CFG, {"interval": (0.8, 0.2)}, "interval: an interval is (t_lo, t_hi) with t_lo ≤ t_hi"),
        (CFG, {"interval": (-0.1, 0.5)}, "interval: Input should be greater than or equal to 0"),
        (APG, {"eta": -0.5}, "eta: Input should be greater than or equal to 0; got -0.5"),
        (APG, {"norm_threshold": math.inf}, "norm_threshold: Input should be a finite number; got inf"),
        (APG, {"momentum": 1.0}, "momentum: Input should be less than 1; got 1.0"),
        (CFGZeroStar, {"zero_init_steps": -1}, "zero_init_steps: Input should be greater than or equal to 0; got -1"),
        (CFGZeroStar, {"zero_init_steps": 1.5}, "zero_init_steps: Input should be a valid integer; got 1.5"),
        (Autoguidance, {"scale": "high"}, "scale: Input should be a valid number"),
    ],
)
def test_a_value_outside_a_parameters_domain_is_refused_naming_it(cls, params, words):
    with pytest.raises(ValueError) as info:
        cls(**params)
    assert f"guidance.{cls.name}.{words}" in str(info.value)  # the Component base's check, at construction


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("target", [EpsilonTarget(), VTarget()], ids=["epsilon", "v"])
def test_each_space_gives_back_x0_and_epsilon(space, target):
    lam = torch.tensor([-math.inf, -4.0, 0.0, 5.0, math.inf])
    a, b = (v.view(-1, 1) for v in VPScaler()(lam))
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    x = a * x0 + b * eps
    pred = target(x0, eps, lam, a, b)
    value = to_space(space, pred=pred, x0=x0, epsilon=eps)
    back_x0, back_eps = from_space(space, value, x=x, logsnr=lam, a=a, b=b, target=target, conditional=(x0, eps))
    inner = slice(1, 4)  # at λ = ±∞ a target inversion may lose what x no longer holds
    torch.testing.assert_close(back_x0[inner], x0[inner])
    torch.testing.assert_close(back_eps[inner], eps[inner])
    if space != "pred":
        assert torch.isfinite(back_x0).all() and torch.isfinite(back_eps).all()


@pytest.mark.parametrize(
    "guidance",
    [
        CFG(scale=(7.0, 3.0), rescale=0.7, interval=(0.1, 0.9)),
        APG(scale=10.0, eta=0.5, norm_threshold=2.0, momentum=-0.5),
        CFGZeroStar(scale=5.0, zero_init_steps=2),
        Autoguidance(scale=(3.0, 1.5)),
    ],
    ids=lambda g: g.name,
)
def test_builtin_with_non_default_parameters_passes_every_guidance_invariant(guidance):
    from gdf_core.testing import check_guidance

    report = check_guidance(guidance, max_examples=10)
    assert report.passed and not [r for r in report.results if r.skipped]


def test_every_builtin_compiles_into_one_graph_with_the_engines_call():
    """No graph break (host reads, data-dependent branches) in a guided denoiser call: torch.compile(fullgraph=True)."""
    from gdf_core.guidance import guide_predictions
    from gdf_plugins.targets import EpsilonTarget

    p, x, lam = preds()
    a, b = torch.full((4, 1, 1), 0.6), torch.full((4, 1, 1), 0.8)
    for guidance in (CFG(scale=(5.0, 2.0), rescale=0.7), APG(scale=5.0, norm_threshold=1.0, momentum=-0.5), CFGZeroStar(), Autoguidance()):

        def denoise(c, u, x, lam, a, b, state):
            return guide_predictions(guidance, Predictions(c, u, u), x=x, logsnr=lam, a=a, b=b, target=EpsilonTarget(), t=0.5, step=1, state=state)

        compiled = torch.compile(denoise, fullgraph=True, backend="eager")
        eager_state, compiled_state = guidance.init_state(), guidance.init_state()
        for _ in range(2):  # the second call sees the momentum of the first
            want = denoise(p.conditional, p.unconditional, x, lam, a, b, eager_state)
            got = compiled(p.conditional, p.unconditional, x, lam, a, b, compiled_state)
            for g, w in zip(got, want):
                torch.testing.assert_close(g, w)
        torch._dynamo.reset()
