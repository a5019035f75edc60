"""The training recipes of issue 12, each against its paper's formula at a few points (values derived here)."""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import pytest
import torch

from gdf_core import GDF
from gdf_core.errors import SpecError
from gdf_core.loss_units import effective_weight, epsilon_mse_scale
from gdf_core.shift import ResolutionShift
from gdf_core.stratified import stratified_uniform
from gdf_plugins.loss_weights.edm import EDMLossWeight
from gdf_plugins.loss_weights.min_snr_gamma import MinSNRGammaLossWeight
from gdf_plugins.scalers.edm import EDMScaler
from gdf_plugins.schedules.logit_normal import LogitNormalSchedule
from gdf_plugins.schedules.mode import ModeSchedule
from gdf_plugins.targets.edm import EDMTarget

SIGMAS = [0.02, 0.1, 0.5, 1.0, 3.0, 20.0]
ks = pytest.importorskip("scipy.stats").ks_2samp


def lam_of_sigma(sigma: float) -> float:
    return -2 * math.log(sigma)


# -- SD3: logit-normal and mode sampling (Esser et al. 2024, §3.1) -------------------
@pytest.mark.parametrize(("mu", "std"), [(0.0, 1.0), (0.5, 0.6), (-1.0, 2.0)])
def test_logit_normal_quantiles_are_minus_two_times_normal_quantiles(mu, std) -> None:
    schedule = LogitNormalSchedule(mu=mu, std=std)
    u = torch.tensor([0.01, 0.2, 0.5, 0.8, 0.99], dtype=torch.float64)
    want = [-2 * NormalDist(mu, std).inv_cdf(v) for v in u.tolist()]  # t = sigmoid(N(mu, std)), λ = −2·logit t
    assert schedule.draw_quantiles(u).tolist() == pytest.approx(want, abs=1e-4)


def test_logit_normal_draws_have_the_papers_density_of_t() -> None:
    schedule = LogitNormalSchedule(mu=0.3, std=0.8)
    lam = schedule(20_000, generator=torch.Generator().manual_seed(0)).double()
    t = torch.sigmoid(-lam / 2)  # x = (1 − t)x0 + tε has λ = 2 log((1 − t)/t)
    # π(t) = 1/(s√(2π)) · 1/(t(1 − t)) · exp(−(logit t − m)²/(2s²)): its CDF is Φ((logit t − m)/s)
    ref = torch.sigmoid(torch.randn(20_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.8 + 0.3)
    assert ks(t.numpy(), ref.numpy()).pvalue > 1e-3
    # E[t] = ∫ sigmoid(x)·N(x; 0.3, 0.8²) dx by quadrature
    grid = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    dens = torch.exp(-((grid - 0.3) ** 2) / (2 * 0.64)) / math.sqrt(2 * math.pi * 0.64)
    mean = float((torch.sigmoid(grid) * dens).sum() * (grid[1] - grid[0]))
    assert float(t.mean()) == pytest.approx(mean, abs=0.005)


def test_mode_sampling_is_f_mode_of_a_uniform() -> None:
    s = 1.29
    schedule = ModeSchedule(scale=s)
    # f_mode(u) = 1 − u − s(cos²(πu/2) − 1 + u): by hand at u = 0.5 (cos² = 1/2) and 0.25 (cos²(π/8) = (2 + √2)/4)
    assert float(schedule.quantile_t(torch.tensor([0.5], dtype=torch.float64))) == pytest.approx(0.5)
    t_at_quarter = 1 - 0.25 - s * ((2 + math.sqrt(2)) / 4 - 1 + 0.25)
    # quantile u of t is f_mode(1 − u): t at quantile 0.75 is f_mode(0.25)
    assert float(schedule.quantile_t(torch.tensor([0.75], dtype=torch.float64))) == pytest.approx(t_at_quarter)
    assert float(schedule.draw_quantiles(torch.tensor([0.75], dtype=torch.float64))) == pytest.approx(
        2 * math.log((1 - t_at_quarter) / t_at_quarter), abs=1e-5
    )
    lam = schedule(4000, generator=torch.Generator().manual_seed(0))
    assert lam.isfinite().all()
    with pytest.raises(SpecError, match="scale"):
        GDF.from_spec({"preset": "sd3", "schedule": {"name": "mode", "scale": 2.0}})


# -- shift: gdf's λ − 2·log s is SD3's and Flux's timestep shift ---------------------
@pytest.mark.parametrize("s", [0.5, 1.7, 3.0])
def test_lambda_shift_is_sd3_timestep_shift(s) -> None:
    rf = GDF.from_spec("rectified_flow").schedule
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    t_sd3 = s * t / (1 + (s - 1) * t)  # SD3 §5.3.2
    assert torch.allclose(rf(t, shift=s), rf(t_sd3), atol=1e-9)
    mu = math.log(s)  # Flux: t' = e^μ/(e^μ + (1/t − 1)^1)
    t_flux = math.exp(mu) / (math.exp(mu) + (1 / t - 1))
    assert torch.allclose(t_flux, t_sd3, atol=1e-12)


def test_resolution_shift_is_flux_mu_linear_in_tokens() -> None:
    rule = ResolutionShift()  # μ = 0.5 at 256 tokens, 1.15 at 4096, 2×2 patches
    assert rule((1, 16, 32, 32)) == pytest.approx(math.exp(0.5))
    assert rule((1, 16, 128, 128)) == pytest.approx(math.exp(1.15))
    assert rule((1, 16, 64, 64)) == pytest.approx(math.exp(0.5 + 0.65 * (1024 - 256) / 3840))
    with pytest.raises(SpecError, match="base_seq_len must be < max_seq_len"):
        GDF.from_spec({"preset": "sd3", "shift": {"name": "resolution", "base_seq_len": 5000}})
    for bad in (0, -1, float("nan"), float("inf"), "3", True):
        with pytest.raises(SpecError, match="shift"):
            GDF.from_spec({"preset": "sd3", "shift": bad})


def test_one_shift_reaches_training_draws_noise_condition_and_sampling_grid() -> None:
    gdf = GDF.from_spec({"preset": "sd3", "shift": {"name": "resolution"}})
    assert GDF.from_spec(gdf.to_spec()) == gdf
    shape = (2, 1, 64, 64)
    s = math.exp(0.5 + 0.65 * (1024 - 256) / 3840)
    rf = GDF.from_spec("rectified_flow").schedule
    t = torch.tensor([0.3, 0.7])
    *_, lam, cond, _ = gdf.diffuse(torch.zeros(shape), t=t)
    t_sd3 = s * t / (1 + (s - 1) * t)
    assert torch.allclose(lam, rf(t_sd3), atol=1e-5)
    assert torch.allclose(cond, 1 - t_sd3, atol=1e-5)  # the model sees the shifted time (cond = 1 − t), as in SD3/Flux
    seen = []
    steps = gdf.sample(lambda x, c: torch.zeros_like(x), {}, shape, cfg=None, timesteps=4, callback=lambda st: seen.append(st.logsnr[0]))
    list(steps)
    grid = torch.tensor([1.0, 0.75, 0.5, 0.25], dtype=torch.float64)
    want = gdf.sample_schedule(grid) - 2 * math.log(s)
    assert torch.allclose(torch.stack(seen).double(), want, atol=1e-4)
    # the shift differs with the resolution
    assert gdf.shift_for((1, 1, 128, 128)) > gdf.shift_for(shape)


# -- EDM (Karras et al. 2022, Table 1) ----------------------------------------------
@pytest.mark.parametrize("sigma_data", [0.5, 1.0])
def test_edm_target_and_scaler_are_karras_preconditioning(sigma_data) -> None:
    target, scaler = EDMTarget(sigma_data), EDMScaler(sigma_data)
    g = torch.Generator().manual_seed(0)
    for sigma in SIGMAS:
        sd2, s2 = sigma_data**2, sigma**2
        c_skip, c_out, c_in = sd2 / (s2 + sd2), sigma * sigma_data / math.sqrt(s2 + sd2), 1 / math.sqrt(s2 + sd2)
        lam = torch.tensor([lam_of_sigma(sigma)], dtype=torch.float64)
        a, b = scaler(lam)
        assert float(a) == pytest.approx(c_in, rel=1e-9) and float(b) == pytest.approx(sigma * c_in, rel=1e-9)
        x0, n = torch.randn(1, 4, generator=g, dtype=torch.float64), torch.randn(1, 4, generator=g, dtype=torch.float64)
        y = x0 + sigma * n  # EDM's noisy input
        f_star = (x0 - c_skip * y) / c_out
        assert torch.allclose(target(x0, n, lam, a, b), f_star, rtol=1e-9)
        f_pred = torch.randn(1, 4, generator=g, dtype=torch.float64)
        x = a * x0 + b * n  # what the network sees: c_in · y
        assert torch.allclose(x, c_in * y)
        assert torch.allclose(target.x0(x, f_pred, lam, a, b), c_skip * y + c_out * f_pred, rtol=1e-9)  # D(y; σ)


def test_edm_loss_weight_is_lambda_sigma_and_one_in_F_units() -> None:
    weight = EDMLossWeight(0.5)
    for sigma in SIGMAS:
        lam = torch.tensor([lam_of_sigma(sigma)], dtype=torch.float64)
        assert float(weight(lam)) == pytest.approx((sigma**2 + 0.25) / (sigma * 0.5) ** 2, rel=1e-9)
    gdf = GDF.from_spec("edm")
    *_, w = gdf.diffuse(torch.zeros(64, 3), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(w, torch.ones(64), rtol=1e-5)  # λ(σ)·c_out² = 1


def test_edm_preset_is_karras_config() -> None:
    karras = {  # Karras et al. 2022, Table 1 and §5 (P_mean, P_std, σ_data, ρ, σ range, Heun)
        "schedule": {"name": "edm_train", "mu": -1.2, "std": 1.2},
        "input_scaler": {"name": "edm", "sigma_data": 0.5},
        "target": {"name": "edm", "sigma_data": 0.5},
        "noise_cond": "edm",
        "loss_weight": {"name": "edm", "sigma_data": 0.5},
        "sample_schedule": {"name": "karras", "sigma_min": 0.002, "sigma_max": 80, "rho": 7},
        "sampler": "heun",
    }
    assert GDF.from_spec("edm") == GDF.from_spec(karras)
    gdf = GDF.from_spec("edm")
    assert (gdf.schedule.mu, gdf.schedule.std, gdf.target.sigma_data) == (-1.2, 1.2, 0.5)
    assert float(gdf.noise_cond(torch.tensor([lam_of_sigma(3.0)]))) == pytest.approx(math.log(3.0) / 4)  # c_noise


@pytest.mark.parametrize("preset", ["sd3", "edm", "edm2", "iddpm_cosine"])
def test_new_presets_are_plain_specs_that_round_trip_and_train(preset) -> None:
    gdf = GDF.from_spec(preset)
    assert GDF.from_spec(gdf.to_spec()) == gdf
    out = gdf.diffuse(torch.randn(8, 1, 4, 4), generator=torch.Generator().manual_seed(0), stratified=True)
    assert all(torch.isfinite(v.double()).all() for v in out)


# -- Min-SNR-γ (Hang et al. 2023) in every target's units (Kingma & Gao 2023) ------
def _weights(target: str, scaler: str, t: torch.Tensor, loss_weight="min_snr_gamma") -> torch.Tensor:
    schedule = "rectified_flows" if scaler == "lerp" else {"name": "cosine", "clamp_range": [1e-6, 1 - 1e-6]}
    gdf = GDF.from_spec({"schedule": schedule, "input_scaler": scaler, "target": target, "noise_cond": "logsnr", "loss_weight": loss_weight})
    *_, lam, _, w = gdf.diffuse(torch.zeros(t.numel(), 2, dtype=torch.float64), t=t)
    return lam, w


def test_min_snr_gamma_gives_the_papers_weight_for_each_target() -> None:
    t = torch.tensor([0.05, 0.2, 0.5, 0.8, 0.95], dtype=torch.float64)
    gamma = 5.0
    for target, formula in {
        "epsilon": lambda snr: min(snr, gamma) / snr,  # Hang et al. eq. for ε
        "x0": lambda snr: min(snr, gamma),
        "v": lambda snr: min(snr, gamma) / (snr + 1),  # their v weight (not min(SNR + 1, γ))
    }.items():
        lam, w = _weights(target, "vp", t)
        want = [formula(math.exp(v)) for v in lam.tolist()]
        assert w.tolist() == pytest.approx(want, rel=1e-6), target
    lam, w = _weights("rectified_flows", "lerp", t)
    # velocity u = ε − x0 under x = (1 − t)x0 + tε: MSE(u) = MSE(ε)/(1 − t)², MSE(x0) = (t/(1 − t))²·MSE(ε)
    assert w.tolist() == pytest.approx([min(((1 - v) / v) ** 2, gamma) * v**2 for v in t.tolist()], rel=1e-6)


def test_one_min_snr_gamma_spec_is_one_objective_in_eps_units_for_every_target() -> None:
    lam = torch.linspace(-8, 8, 33, dtype=torch.float64)
    spec = {"schedule": "cosine", "input_scaler": "vp", "noise_cond": "logsnr", "loss_weight": "min_snr_gamma"}
    per_target = [effective_weight(g.loss_weight, g.target, g.input_scaler, lam) for g in (GDF.from_spec({**spec, "target": k}) for k in ("epsilon", "x0", "v", "rectified_flows"))]
    for w in per_target[1:]:
        assert torch.allclose(w, per_target[0], rtol=1e-6)
    assert torch.allclose(per_target[0], torch.minimum(torch.ones_like(lam), 5 / lam.exp()), rtol=1e-6)


def test_min_snr_and_min_snr_plus_one_keep_the_originals_maths() -> None:
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    for target in ("epsilon", "v"):
        lam, w = _weights(target, "vp", t, {"name": "min_snr", "max_snr": 5})
        assert w.tolist() == pytest.approx([min(math.exp(v), 5) for v in lam.tolist()], rel=1e-6)
        lam, w = _weights(target, "vp", t, {"name": "min_snr_plus_one", "max_snr": 5})
        assert w.tolist() == pytest.approx([min(math.exp(v) + 1, 5) for v in lam.tolist()], rel=1e-6)


def test_epsilon_mse_scale_of_each_target() -> None:
    lam = torch.tensor([-3.0, 0.0, 2.5], dtype=torch.float64)
    gdf = GDF.from_spec("ddpm")
    a, b = gdf.input_scaler(lam)
    snr = lam.exp()
    for name, want in {"epsilon": torch.ones_like(lam), "x0": 1 / snr, "v": 1 + 1 / snr, "rectified_flows": ((a + b) / a) ** 2}.items():
        target = GDF.from_spec({"preset": "ddpm", "target": name}).target
        assert torch.allclose(epsilon_mse_scale(target, lam, a, b), want, rtol=1e-9), name


def test_min_snr_gamma_rejects_bad_gamma() -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(SpecError, match="gamma"):
            GDF.from_spec({"preset": "ddpm", "loss_weight": {"name": "min_snr_gamma", "gamma": bad}})
    assert float(MinSNRGammaLossWeight(5)(torch.tensor([100.0]))) == pytest.approx(5)  # no overflow


# -- stratified draws -----------------------------------------------------------------
def test_stratified_uniform_covers_each_stratum_once_per_global_batch() -> None:
    batch, world = 5, 3
    u = torch.cat([stratified_uniform(batch, rank=r, world_size=world, generator=torch.Generator().manual_seed(r)) for r in range(world)])
    assert torch.equal(torch.floor(u * batch * world).long().sort().values, torch.arange(batch * world))
    with pytest.raises(ValueError, match="rank"):
        stratified_uniform(4, rank=3, world_size=3)


@pytest.mark.parametrize("preset", ["sd3", "edm", "ddpm", "edm2"])
def test_stratified_draws_keep_the_training_distribution_and_lower_the_variance(preset) -> None:
    gdf = GDF.from_spec(preset)
    g = torch.Generator().manual_seed(0)
    strat = torch.stack([gdf.diffuse(torch.zeros(16, 1), generator=g, stratified=True)[3] for _ in range(150)])
    iid = torch.stack([gdf.diffuse(torch.zeros(16, 1), generator=g)[3] for _ in range(150)])
    assert ks(strat.reshape(-1).numpy(), iid.reshape(-1).numpy()).pvalue > 1e-3
    assert strat.mean(1).var() < 0.5 * iid.mean(1).var()  # the batch mean of λ varies less


def test_stratified_and_t_together_are_refused() -> None:
    with pytest.raises(ValueError, match="give t or stratified=True"):
        GDF.from_spec("ddpm").diffuse(torch.zeros(4, 1), t=torch.full((4,), 0.5), stratified=True)


def test_stratified_needs_a_quantile_function() -> None:
    class Opaque:
        name = "opaque"

        def __call__(self, t, *, shift=1.0, generator=None):
            return torch.zeros(t) if isinstance(t, int) else torch.zeros_like(t)

    gdf = GDF(Opaque(), "vp", "epsilon", "cosine_t", "constant")
    with pytest.raises(TypeError, match="quantile"):
        gdf.diffuse(torch.zeros(4, 1), stratified=True)


def test_kit_bounds_a_by_the_declared_max_a() -> None:
    from gdf_core.testing.checks.input_scaler import check_input_scaler

    only = ["coefficients_in_unit_interval"]
    assert check_input_scaler(EDMScaler(0.5), only=only, raise_on_failure=False).passed  # a reaches 1/σ_d = 2 = max_a

    class Overstated(EDMScaler):
        """Declares a ≤ 1.5 but reaches 2 (broken on purpose)."""

        max_a = 1.5

    report = check_input_scaler(Overstated(0.5), only=only, raise_on_failure=False)
    assert not report.passed and "not in [0, 1.5]" in str(report.failures[0])
