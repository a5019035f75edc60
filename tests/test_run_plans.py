"""The GDF's cache of run plans (``gdf_core.run_plans``): reused only where nothing that shapes it changed."""

from __future__ import annotations

import pytest
import torch

from gdf_core import GDF
from gdf_plugins.noise_conds.cosine_t import CosineTNoiseCond
from gdf_plugins.schedules.cosine import CosineSchedule


def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.tanh(x) + 0.1 * cond.view(-1, 1)


def _plan(gdf: GDF, **kwargs):
    args = {"sampler": "dpmpp_2m", "timesteps": 8, "cfg": None, **kwargs}
    shape = kwargs.pop("shape", (3, 2))
    args.pop("shape", None)
    return gdf.prepare_sample(model, {}, shape, **args)


def test_a_repeated_run_reuses_its_grid_and_plan_and_gives_the_same_samples() -> None:
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    first, second = _plan(gdf, x_init=x), _plan(gdf, x_init=x)
    assert second.state.plan is first.state.plan and second.logsnrs is first.logsnrs
    fresh = GDF.from_spec("stable_cascade")
    torch.testing.assert_close(second.solve(), _plan(fresh, x_init=x).solve(), rtol=0, atol=0)


def test_anything_that_shapes_the_plan_misses_the_cache() -> None:
    gdf = GDF.from_spec("stable_cascade")
    base = _plan(gdf)
    for changed in ({"timesteps": 9}, {"t_start": 0.9}, {"t_end": 0.1}, {"shift": 2.0}, {"shape": (4, 2)},
                    {"sampler": "unipc"}, {"sampler": {"name": "dpmpp_2m", "warmup_corrector": False}},
                    {"dtype": torch.float64}):
        other = _plan(gdf, **changed)
        assert other.state.plan is not base.state.plan, changed
    assert _plan(gdf, schedule="cosine").state.plan is not _plan(gdf, schedule="cosine").state.plan  # passed in: not cached


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "unipc"])
@pytest.mark.parametrize("preset", ["stable_cascade", "rectified_flow", "edm"])
def test_a_run_under_inference_mode_does_not_hand_its_tensors_to_a_run_that_backpropagates(preset: str, sampler: str) -> None:
    """Inference tensors cannot be saved for backward: a plan built under ``torch.inference_mode`` is for such runs only."""
    gdf = GDF.from_spec(preset)
    with torch.inference_mode():
        inside = _plan(gdf, sampler=sampler)
        assert _plan(gdf, sampler=sampler).state.plan is inside.state.plan  # cached for runs in inference mode
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = gdf.sample_final(model, {}, None, sampler=sampler, timesteps=8, cfg=None, x_init=x)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_changing_a_component_in_place_or_stretching_the_scaler_misses_the_cache() -> None:
    gdf = GDF.from_spec("v_prediction")
    base = _plan(gdf)
    gdf.setup_limits()
    stretched = _plan(gdf)
    assert stretched.state.plan is not base.state.plan
    assert not torch.equal(stretched.state.plan.rows, base.state.plan.rows)
    gdf.schedule.s = 0.02  # a parameter changed in place: another spec, another key
    assert _plan(gdf).state.plan is not stretched.state.plan


class LearnedGrid(CosineSchedule):
    """A sampling schedule with learned state (``Stateful``): its grid may change between runs."""

    def state_dict(self) -> dict:
        return {"s": self.s}

    def load_state_dict(self, state: dict) -> None:
        self.s = state["s"]


def test_a_schedule_with_learned_state_is_never_cached() -> None:
    gdf = GDF.from_spec("stable_cascade")
    gdf.sample_schedule = LearnedGrid()
    assert _plan(gdf).state.plan is not _plan(gdf).state.plan


def test_the_cache_is_bounded() -> None:
    gdf = GDF.from_spec("stable_cascade")
    for n in range(1, 30):
        _plan(gdf, timesteps=n)
    assert len(gdf._run_plans) == gdf._run_plans.size


def test_a_sampler_spec_given_again_is_built_once() -> None:
    """A name or a dict of plain data given to every call is validated and built once per GDF."""
    gdf = GDF.from_spec("stable_cascade")
    assert _plan(gdf).sampler is _plan(gdf).sampler
    spec = {"name": "unipc", "order": 2}
    assert _plan(gdf, sampler=spec).sampler is _plan(gdf, sampler=dict(spec)).sampler
    assert _plan(gdf, sampler={"name": "unipc", "order": 3}).sampler.order == 3  # another spec, another sampler
    assert _plan(gdf, sampler="unipc").sampler is not _plan(gdf, sampler=spec).sampler
    changed = _plan(gdf, sampler="ddim").sampler
    changed.eta = 1.0  # a user changes the sampler a run was given: "ddim" still means eta = 0
    assert _plan(gdf, sampler="ddim").sampler.eta == 0.0


def test_a_sampler_with_learned_state_is_built_for_every_run() -> None:
    from gdf_core.registry import registry
    from gdf_plugins.samplers.first_order import DDIMSampler

    class Learned(DDIMSampler):
        name = "run_plans_learned"

        def state_dict(self) -> dict:
            return {}

        def load_state_dict(self, state: dict) -> None:
            pass

    gdf = GDF.from_spec("stable_cascade")
    registry.register(Learned, kind="sampler")
    try:
        assert _plan(gdf, sampler="run_plans_learned").sampler is not _plan(gdf, sampler="run_plans_learned").sampler
    finally:
        registry.unregister(Learned)


def test_what_a_name_means_is_read_again_after_a_registration() -> None:
    """Registering another class under a name, or removing it, is seen by the next run (the registry's generation)."""
    from gdf_core.registry import registry
    from gdf_plugins.samplers.first_order import DDIMSampler

    class First(DDIMSampler):
        name = "run_plans_probe"

    class Second(DDIMSampler):
        name = "run_plans_probe"

    gdf = GDF.from_spec("stable_cascade")
    registry.register(First, kind="sampler")
    try:
        assert type(_plan(gdf, sampler="run_plans_probe").sampler) is First
        registry.register(Second, kind="sampler")  # replaces First in this process
        assert type(_plan(gdf, sampler="run_plans_probe").sampler) is Second
    finally:
        registry.unregister(First)
        registry.unregister(Second)
    from gdf_core.errors import SpecError

    with pytest.raises(SpecError, match="run_plans_probe"):
        _plan(gdf, sampler="run_plans_probe")


class CountingCond(CosineTNoiseCond):
    """The cosine_t condition, counting how many times it is evaluated."""

    calls = 0

    def cond(self, logsnr: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        return super().cond(logsnr)


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "heun", "unipc", "dpmpp_2s_ancestral"])
def test_the_noise_condition_is_evaluated_once_per_grid_at_its_levels(sampler: str) -> None:
    """Calls at the grid's levels read the tables; only a two-stage midpoint (2S) computes its own."""
    gdf = GDF.from_spec("stable_cascade")
    gdf.noise_cond = CountingCond()
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    CountingCond.calls = 0
    first = gdf.sample_final(model, {}, (3, 2), sampler=sampler, timesteps=6, x_init=x, cfg=None,
                             generator=torch.Generator().manual_seed(1))
    midpoints = 5 if sampler == "dpmpp_2s_ancestral" else 0  # its last step has no midpoint
    assert CountingCond.calls == 1 + midpoints  # the tables, built once for the whole grid
    again = gdf.sample_final(model, {}, (3, 2), sampler=sampler, timesteps=6, x_init=x, cfg=None,
                             generator=torch.Generator().manual_seed(1))
    assert CountingCond.calls == 1 + 2 * midpoints  # the second run's tables come from the cache
    untabled = gdf.prepare_sample(model, {}, (3, 2), sampler=sampler, timesteps=6, x_init=x, cfg=None,
                                  generator=torch.Generator().manual_seed(1))
    untabled.denoiser.tables = None
    reference = untabled.solve(generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, reference, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(again, first, rtol=0, atol=0)
