"""Grid tuning (GITS + refinement): never worse than the standard grids, deterministic, a plain spec."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import yaml
from click.testing import CliRunner

from gdf_core import GDF
from gdf_core.accuracy.grids import exponential, karras
from gdf_core.accuracy.problem import OracleProblem
from gdf_core.cli import main
from gdf_core.tuning import gits_path, steps_for_nfe, tune


@pytest.fixture(scope="module")
def problem():
    return OracleProblem(dim=2, components=3, samples=16, seed=3)


def tuned_on(problem, sampler, nfe, seed=11, candidates=14, sweeps=2, **kwargs):
    return tune(problem.gdf, problem.model(), sampler=sampler, nfe=nfe, x_init=problem.noise(32, seed),
                logsnr_range=(problem.logsnr_start, -2 * math.log(problem.sigma_min), math.inf),
                candidates=candidates, sweeps=sweeps, **kwargs)


def test_gits_dynamic_programming_finds_the_cheapest_path_of_exactly_k_steps():
    g = torch.Generator().manual_seed(0)
    n, steps = 8, 3
    costs = torch.rand(n, n, generator=g, dtype=torch.float64).triu(1) + torch.tril(torch.full((n, n), math.inf, dtype=torch.float64))
    best = min(
        (sum(float(costs[a, b]) for a, b in zip(p, p[1:])), p)
        for inner in itertools.combinations(range(1, n - 1), steps - 1)
        for p in [(0, *inner, n - 1)]
    )
    path = gits_path(costs, steps)
    assert tuple(path) == best[1]
    with pytest.raises(ValueError):
        gits_path(costs, n)


@pytest.mark.parametrize("sampler, nfe", [("dpmpp_3m", 5), ("ipndm", 4)])
def test_tuned_grid_is_not_worse_than_the_best_standard_grid_on_fresh_noise(problem, sampler, nfe):
    result = tuned_on(problem, sampler, nfe)
    steps = steps_for_nfe(sampler, nfe)
    # measured against the exact ODE solution, on the problem's own noise (not the noise it was tuned on)
    standard = {
        "karras": problem.run(sampler, karras(steps, problem.sigma_min, problem.sigma_max)).error,
        "exponential": problem.run(sampler, exponential(steps, problem.sigma_min, problem.sigma_max)).error,
    }
    tuned = problem.run(sampler, result.logsnrs)
    assert tuned.nfe == nfe
    assert tuned.error <= min(standard.values()), (tuned.error, standard)
    assert result.error <= min(result.baselines.values())
    assert len(result.logsnrs) == steps + 1 and result.logsnrs[0] == pytest.approx(problem.logsnr_start)
    assert result.logsnrs[-1] == math.inf and all(b > a for a, b in zip(result.logsnrs, result.logsnrs[1:]))


def test_tuning_is_deterministic_for_a_seed(problem):
    first, second = tuned_on(problem, "deis", 3, candidates=8), tuned_on(problem, "deis", 3, candidates=8)
    assert first.logsnrs == second.logsnrs and first.error == second.error


def test_the_result_is_a_spec_whose_sample_walks_the_tuned_levels(problem):
    result = tuned_on(problem, "dpmpp_2m", 3, candidates=8, sweeps=1)
    result.recipe = {"preset": "ddpm"}
    spec = yaml.safe_load(yaml.safe_dump(result.spec()))
    gdf = GDF.from_spec(spec)
    seen = []
    for _ in gdf.sample(lambda x, c: 0.1 * x, {}, (2, 2), timesteps=result.steps, cfg=None,
                        callback=lambda s: seen.append(float(s.logsnr[0]))):
        pass
    assert seen == pytest.approx(result.logsnrs[:-1], rel=1e-6)
    assert gdf.to_spec()["sampler"] == "dpmpp_2m"


def test_tune_refuses_stochastic_samplers_and_bad_budgets(problem):
    with pytest.raises(ValueError, match="stochastic"):
        tuned_on(problem, "euler_ancestral", 4)
    with pytest.raises(ValueError, match="nfe"):
        tuned_on(problem, "ddim", 0)


def test_gdf_tune_command_on_the_oracle_writes_a_valid_spec(tmp_path):
    out = tmp_path / "tuned.yaml"
    result = CliRunner().invoke(main, ["tune", "ddpm", "--sampler", "dpmpp_2m", "--nfe", "4", "--oracle", "--dim", "2",
                                       "--components", "3", "--samples", "16", "--candidates", "12", "--sweeps", "1",
                                       "--no-progress", "-o", str(out)])
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(out.read_text())
    assert spec["sample_schedule"]["name"] == "tabulated" and len(spec["sample_schedule"]["logsnrs"]) == 5
    assert GDF.from_spec(spec).to_spec()["sample_schedule"] == spec["sample_schedule"]
    assert "tuned" in result.output and "gits" in result.output


def test_gdf_tune_needs_a_model_or_the_oracle():
    result = CliRunner().invoke(main, ["tune", "ddpm", "--sampler", "ddim", "--nfe", "4"])
    assert result.exit_code == 1 and "--model" in result.output and "--oracle" in result.output
