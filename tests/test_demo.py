"""The main-job demo: data, quality figure, NFE accounting, and a tiny end-to-end run."""

from __future__ import annotations

import json

import pytest
import torch
from rich.console import Console

from gdf_core import GDF
from gdf_core.demo.data import DATASETS, draw
from gdf_core.demo.model import MLPDenoiser
from gdf_core.demo.quality import sliced_wasserstein
from gdf_core.demo.run import default_samplers, run_demo, steps_for_nfe
from gdf_core.demo.train import train


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_data_sets_are_reproducible_2d_and_roughly_unit_scale(name):
    x = draw(name, 4000, seed=3)
    assert x.shape == (4000, 2) and torch.isfinite(x).all()
    assert torch.equal(x, draw(name, 4000, seed=3))
    assert 0.3 < float(x.std()) < 2.0 and float(x.mean(0).abs().max()) < 0.5


def test_an_unknown_data_set_names_the_choices():
    with pytest.raises(ValueError, match="two_moons"):
        draw("moons", 10)


def test_sliced_wasserstein_is_zero_for_identical_clouds_and_grows_with_a_shift():
    x = draw("two_moons", 1000)
    assert sliced_wasserstein(x, x) == 0.0
    near, far = sliced_wasserstein(x, x + 0.1), sliced_wasserstein(x, x + 1.0)
    assert 0.0 < near < far
    assert sliced_wasserstein(x, x + 1.0) == pytest.approx(sliced_wasserstein(x + 1.0, x))


def test_sliced_wasserstein_of_a_pure_shift_is_its_length_over_sqrt_dim():
    # For a shift δ, each projection moves by θᵀδ; E(θᵀδ)² = |δ|²/D for uniform θ.
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(x, x + torch.tensor([3.0, 4.0]), projections=4096) == pytest.approx(5 / 2**0.5, rel=0.05)


def test_sliced_wasserstein_accepts_clouds_of_different_sizes():
    assert sliced_wasserstein(draw("checkerboard", 300), draw("checkerboard", 500, seed=1)) < 0.3


def test_the_denoiser_takes_any_noise_condition_shape():
    model = MLPDenoiser(hidden=16, depth=1)
    x = torch.randn(5, 2)
    assert model(x, torch.rand(5)).shape == (5, 2)
    assert model(x, torch.tensor(0.5)).shape == (5, 2)
    assert model(x, torch.arange(5)).shape == (5, 2)  # a discrete noise condition


def test_first_order_samplers_spend_one_model_call_per_step():
    gdf = GDF.from_spec("stable_cascade")
    assert steps_for_nfe(gdf, "ddim", 7) == 7


def test_default_samplers_are_installed_ones():
    from gdf_core import registry

    chosen = default_samplers()
    assert chosen and set(chosen) <= set(registry.names("sampler"))


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    result = train(GDF.from_spec("rectified_flow"), MLPDenoiser(hidden=32, depth=1), lambda n, g: DATASETS["two_moons"](n, g),
                   steps=150, batch_size=128, progress=False)
    assert result.steps == 150
    assert sum(result.losses[-20:]) < sum(result.losses[:20])


def test_training_stops_after_the_time_budget():
    result = train(GDF.from_spec("edm"), MLPDenoiser(hidden=16, depth=1), lambda n, g: DATASETS["two_moons"](n, g),
                   steps=10_000, seconds=0.0, batch_size=16, progress=False)
    assert result.steps == 1


def test_a_tiny_demo_writes_the_picture_and_the_table(tmp_path):
    console = Console(record=True, width=120)
    result = run_demo("edm", data="eight_gaussians", samplers=["ddim"], nfes=[1, 3], steps=20, n_samples=100,
                      out=tmp_path, progress=False, console=console)
    assert result.png == tmp_path / "demo_edm.png" and result.png.stat().st_size > 10_000
    report = json.loads(result.json.read_text())
    assert report["gdf"] == GDF.from_spec("edm").to_spec()
    assert [r["nfe"] for r in report["results"]] == [1, 3]
    assert all(r["swd"] > 0 for r in report["results"])
    assert "NFE 3" in console.export_text()


def test_the_demo_is_reproducible(tmp_path):
    """Whatever the global RNG's state before the run (the model's initial weights included)."""
    runs = []
    for i in range(2):
        torch.manual_seed(100 + i)
        state = torch.random.get_rng_state()
        runs.append(run_demo("rectified_flow", samplers=["ddim"], nfes=[2], steps=10, n_samples=50,
                             out=tmp_path / str(i), progress=False, console=Console(quiet=True)).rows[0]["swd"])
        assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert runs[0] == runs[1]


def test_the_demo_runs_on_the_threads_it_is_given_and_restores_torchs_setting(tmp_path, monkeypatch):
    import gdf_core.demo.run as run_module

    seen = []
    real_train = run_module.train

    def recording_train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(run_module, "train", recording_train)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_demo("ddpm", samplers=["ddim"], nfes=[2], steps=5, n_samples=50, out=tmp_path, progress=False,
                 console=Console(quiet=True), threads=1)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
