"""The tabulated sampling schedule: a tuned grid as a plain recipe that round-trips and is walked exactly."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml

from gdf_core import GDF, build
from gdf_core.errors import SpecError
from gdf_plugins.schedules.tabulated import TabulatedSchedule

KNOTS = [-5.37, -2.1, 0.4, 3.3, 7.0, math.inf]


def test_spec_round_trips_through_python_yaml_and_json():
    schedule = build("schedule", {"name": "tabulated", "logsnrs": KNOTS})
    spec = schedule.to_spec()
    assert spec == {"name": "tabulated", "logsnrs": KNOTS}
    assert build("schedule", spec) == schedule
    assert build("schedule", yaml.safe_load(yaml.safe_dump(spec))) == schedule
    assert build("schedule", json.loads(json.dumps(spec))) == schedule
    with_ts = build("schedule", {"name": "tabulated", "logsnrs": [-3.0, 0.0, 3.0], "ts": [1.0, 0.3, 0.0]})
    assert build("schedule", with_ts.to_spec()) == with_ts


def test_a_gdf_spec_with_a_tabulated_sample_schedule_round_trips():
    gdf = GDF.from_spec({"preset": "ddpm", "sample_schedule": {"name": "tabulated", "logsnrs": KNOTS}})
    again = GDF.from_spec(yaml.safe_dump(gdf.to_spec()))
    assert again.to_spec() == gdf.to_spec()
    assert again.sample_schedule == gdf.sample_schedule


def test_sample_with_as_many_steps_as_intervals_walks_exactly_the_knots():
    gdf = GDF.from_spec({"preset": "ddpm", "sample_schedule": {"name": "tabulated", "logsnrs": KNOTS}})
    seen = []
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    for _ in gdf.sample(lambda x, c: 0.1 * x, {}, (3, 2), sampler="ddim", timesteps=len(KNOTS) - 1, cfg=None,
                        x_init=x, callback=lambda s: seen.append(float(s.logsnr[0]))):
        pass
    assert seen == pytest.approx(KNOTS[:-1], rel=1e-6)


@pytest.mark.parametrize(
    "knots", [KNOTS, [-math.inf, math.inf], [-math.inf, -1.0, 2.0], [-4.0, 6.0], [-math.inf, 0.0, math.inf]]
)
def test_interpolation_is_strictly_monotone_finite_inside_and_exact_at_the_knots(knots):
    s = TabulatedSchedule(logsnrs=knots)
    t = torch.linspace(1, 0, 2001, dtype=torch.float64)
    lam = s(t)
    assert (lam[1:] > lam[:-1]).all()
    assert torch.isfinite(lam[1:-1]).all()
    assert float(lam[0]) == knots[0] and float(lam[-1]) == knots[-1]
    at_knots = s(torch.linspace(1, 0, len(knots), dtype=torch.float64))
    assert at_knots.tolist() == knots
    assert s(t.float()).dtype == torch.float32


def test_explicit_t_knots_place_the_values_there():
    s = TabulatedSchedule(logsnrs=[-3.0, 0.0, 3.0], ts=[1.0, 0.8, 0.0])
    assert s(torch.tensor([1.0, 0.8, 0.4, 0.0], dtype=torch.float64)).tolist() == pytest.approx([-3.0, 0.0, 1.5, 3.0])


@pytest.mark.parametrize(
    "params, says",
    [
        ({"logsnrs": [1.0]}, "at least 2"),
        ({"logsnrs": []}, "at least 2"),
        ({"logsnrs": [1.0, 0.0]}, "increase strictly"),
        ({"logsnrs": [0.0, 0.0]}, "increase strictly"),
        ({"logsnrs": [0.0, float("nan")]}, "NaN"),
        ({"logsnrs": [0.0, math.inf, 5.0]}, "only the first"),
        ({"logsnrs": [math.inf, 5.0]}, "only the first"),
        ({"logsnrs": [0.0, 5.0, -math.inf]}, "only the first"),
        ({"logsnrs": [0.0, 1.0], "ts": [1.0, 0.5]}, "from 1"),
        ({"logsnrs": [0.0, 1.0], "ts": [0.0, 1.0]}, "from 1"),
        ({"logsnrs": [0.0, 1.0, 2.0], "ts": [1.0, 1.0, 0.0]}, "fall strictly"),
        ({"logsnrs": [0.0, 1.0, 2.0], "ts": [1.0, float("nan"), 0.0]}, "[0, 1]"),
        ({"logsnrs": [0.0, 1.0, 2.0], "ts": [1.0, 0.0]}, "ts has 2 values"),
        ({"logsnrs": "fast"}, "logsnrs"),
    ],
)
def test_bad_tables_are_spec_errors_that_say_what_is_wrong(params, says):
    with pytest.raises(SpecError, match="tabulated") as info:
        build("schedule", {"name": "tabulated", **params})
    assert says in str(info.value)
    with pytest.raises((ValueError, TypeError)):
        TabulatedSchedule(**params)


def test_the_callers_list_is_not_mutated():
    knots = [-2.0, 1.0, 4.0]
    TabulatedSchedule(logsnrs=knots, shift=2.0)
    assert knots == [-2.0, 1.0, 4.0]
