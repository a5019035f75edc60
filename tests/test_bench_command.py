"""``gdf bench``: the accuracy table of every installed sampler, third-party ones included, from the package."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gdf_core.accuracy.grids import AYS_SD15_SIGMAS, ays, exponential, karras
from gdf_core.accuracy.table import fit_order

FIXTURE = Path(__file__).parent / "fixtures" / "registry_dists" / "bench_sampler"


def test_bench_runs_a_third_party_sampler_from_an_installed_distribution(tmp_path):
    """The fixture distribution's sampler is found through its entry point, listed by default and measured."""
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in ("GDF_DISABLE_PLUGIN_AUTOLOAD", "GDF_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "gdf_core.cli", "bench", "--dim", "2", "--components", "3", "--samples", "16",
           "--nfe", "5,10,20,40", "-g", "karras", "--no-peers", "--no-progress", "--json", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["sampler"]: r for r in json.loads(out.read_text())["results"]}
    assert "fixture_ddim" in rows and "fixture_ddim" in done.stdout
    assert {"ddim", "dpmpp_2m", "unipc"} <= set(rows)  # the built-ins are listed by default too
    fixture, ddim = rows["fixture_ddim"], rows["ddim"]
    for nfe in ("5", "10", "20", "40"):
        assert fixture["errors"][nfe]["nfe"] == int(nfe)
        # the same algorithm written independently: the same error as gdf's ddim
        assert fixture["errors"][nfe]["error"] == pytest.approx(ddim["errors"][nfe]["error"], rel=1e-9)
    errors = [fixture["errors"][n]["error"] for n in ("5", "10", "20", "40")]
    assert errors == sorted(errors, reverse=True)
    assert 0.8 < fixture["order"] < 1.2  # DDIM is first order
    assert 3.0 < rows["unipc"]["order"]  # and the order-3 predictor-corrector is not


def test_fitted_order_recovers_a_power_law():
    errors = {n: (n, 3.0 * n**-2.5) for n in (5, 10, 20, 50)}
    assert fit_order(errors) == pytest.approx(2.5, abs=1e-9)
    assert fit_order({5: (5, 0.1)}) is None


def test_grid_families_share_levels_and_the_data_end():
    for family in (karras, exponential, ays):
        lam = family(7, 0.03, 14.6)
        assert len(lam) == 8 and lam[-1] == math.inf
        assert lam[0] == pytest.approx(-2 * math.log(14.6)) and lam[-2] == pytest.approx(-2 * math.log(0.03))
        assert all(b > a for a, b in zip(lam, lam[1:]))


def test_ays_at_its_own_step_count_is_the_published_table():
    lam = ays(len(AYS_SD15_SIGMAS), AYS_SD15_SIGMAS[-1], AYS_SD15_SIGMAS[0])
    sigmas = torch.exp(-torch.tensor(lam[:-1], dtype=torch.float64) / 2)
    torch.testing.assert_close(sigmas, torch.tensor(AYS_SD15_SIGMAS, dtype=torch.float64), rtol=1e-9, atol=0)
