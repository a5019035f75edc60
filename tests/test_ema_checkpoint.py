"""EMA (torch's AveragedModel, constant and EDM2 power-function profiles) and the one-file checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gdf_core import GDF
from gdf_core.checkpoint import TrainState, step_seed
from gdf_core.ema import EMA, sigma_rel_to_gamma


def test_sigma_rel_to_gamma_matches_edm2() -> None:
    # Karras et al. 2024, §3.1: σ_rel = 0.05 ↔ γ = 16.97, σ_rel = 0.10 ↔ γ = 6.94
    assert sigma_rel_to_gamma(0.05) == pytest.approx(16.97, abs=0.005)
    assert sigma_rel_to_gamma(0.10) == pytest.approx(6.94, abs=0.005)
    for bad in (0, -0.1, 0.5):
        with pytest.raises(ValueError, match="sigma_rel"):
            sigma_rel_to_gamma(bad)


def _steps(model: nn.Module, values: list[float]):
    for v in values:
        with torch.no_grad():
            model.weight.fill_(v)
        yield model


def test_constant_ema_is_torchs_ema() -> None:
    model = nn.Linear(1, 1, bias=False)
    ema = EMA(model, decay=0.9)
    values = [1.0, 2.0, 4.0]
    want = None
    for m in _steps(model, values):
        ema.update(m)
        v = float(m.weight.detach())
        want = v if want is None else 0.9 * want + 0.1 * v
    assert float(ema.module.weight) == pytest.approx(want)


def test_power_ema_weighs_update_tau_by_tau_to_the_gamma() -> None:
    model = nn.Linear(1, 1, bias=False)
    ema = EMA(model, sigma_rel=0.10)
    gamma = sigma_rel_to_gamma(0.10)
    values = [3.0, -1.0, 2.0, 5.0, 0.5]
    for m in _steps(model, values):
        ema.update(m)
    # β_t = (1 − 1/t)^(γ+1) unrolls to weights ∝ τ^γ (exactly, for the discrete recursion: ∏ ratios)
    avg = values[0]
    for t, v in enumerate(values[1:], start=2):
        beta = (1 - 1 / t) ** (gamma + 1)
        avg = beta * avg + (1 - beta) * v
    assert float(ema.module.weight) == pytest.approx(avg, rel=1e-6)
    assert not float(ema.module.weight) == pytest.approx(sum(values) / len(values))


def test_ema_needs_exactly_one_profile() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        EMA(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="exactly one"):
        EMA(nn.Linear(1, 1), decay=0.9, sigma_rel=0.1)


def test_train_state_resumes_exactly(tmp_path) -> None:
    spec = {"preset": "edm", "loss_weight": {"name": "adaptive", "buckets": 16}}

    def run(steps: int, resume_from=None, save_at=None):
        torch.manual_seed(0)
        gdf = GDF.from_spec(spec)
        model = nn.Sequential(nn.Linear(3, 16), nn.SiLU(), nn.Linear(16, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        ema = EMA(model, sigma_rel=0.1)
        state = TrainState(gdf, model, opt, ema)
        start = state.load(resume_from)[0] if resume_from else 0
        for step in range(start, steps):
            g = torch.Generator().manual_seed(step_seed(1, step))
            x0 = torch.randn(8, 2, generator=g)
            noised, _, target, lam, cond, w = gdf.diffuse(x0, generator=g, stratified=True)
            pred = model(torch.cat([noised, cond[:, None]], 1))
            per = ((pred - target) ** 2).mean(1)
            opt.zero_grad()
            (per * w).mean().backward()
            opt.step()
            ema.update(model)
            gdf.loss_weight.update_buckets(lam, per.detach())
            if save_at == step + 1:
                state.save(tmp_path / "ckpt.pt", step=step + 1)
        return model, ema, gdf

    full = run(6)
    run(6, save_at=3)
    resumed = run(6, resume_from=tmp_path / "ckpt.pt")
    for a, b in zip(full[0].parameters(), resumed[0].parameters()):
        assert torch.equal(a, b)
    for a, b in zip(full[1].module.parameters(), resumed[1].module.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(full[2].state_dict()["loss_weight"]["bucket_losses"], resumed[2].state_dict()["loss_weight"]["bucket_losses"])
    other = TrainState(GDF.from_spec("edm"), nn.Sequential(nn.Linear(3, 16), nn.SiLU(), nn.Linear(16, 2)))
    with pytest.raises(ValueError, match="another recipe"):
        other.load(tmp_path / "ckpt.pt")
