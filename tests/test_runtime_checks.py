"""What ``GDF.sample`` refuses at its boundary, with the message, and that nothing the caller passed is changed."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from gdf_core import GDF, build
from gdf_core.errors import SpecError
from gdf_core import runtime_checks as rc


def model(x, cond, **kwargs):
    return torch.tanh(x) * 0.5


@pytest.fixture(scope="module")
def gdf():
    return GDF.from_spec("stable_cascade")


def run(gdf, **kwargs):
    """Every step of a short sample with ``kwargs`` over a small default call."""
    call = {"model": model, "model_inputs": {}, "shape": (2, 3), "timesteps": 3, "cfg": None}
    call.update(kwargs)
    return list(gdf.sample(**call))


def snapshot(value):
    return copy.deepcopy(value)


def same(a, b):
    if isinstance(a, torch.Tensor):
        if a.is_meta:  # no values to compare
            return isinstance(b, torch.Tensor) and b.is_meta and (a.shape, a.dtype) == (b.shape, b.dtype)
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


# -- the model's output ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("output", "error", "words"),
    [
        (lambda x: torch.zeros(x.shape[0], 1), ValueError, "the model returned shape (2, 1) for an input x of shape (2, 3)"),
        (lambda x: torch.zeros(3, 3), ValueError, "the model returned shape (3, 3)"),
        (lambda x: (x, x), TypeError, "the model returned tuple"),
        (lambda x: None, TypeError, "the model returned NoneType None; it must return one tensor"),
        (lambda x: x.long(), TypeError, "dtype torch.int64"),
        (lambda x: torch.empty_like(x, device="meta"), ValueError, "the model returned a tensor on meta for an input x on cpu"),
    ],
)
def test_a_wrong_model_output_is_refused_at_the_first_step(gdf, output, error, words):
    calls = []

    def bad(x, cond, **kwargs):
        calls.append(1)
        return output(x)

    with pytest.raises(error) as info:
        run(gdf, model=bad)
    assert words in str(info.value)
    assert len(calls) == 1  # refused at the first model call, before any step


def test_a_wrong_model_output_under_cfg_names_the_doubled_batch(gdf):
    inputs = {"c": torch.ones(2, 4)}
    with pytest.raises(ValueError, match=r"returned shape \(4, 1\) for an input x of shape \(4, 3\)"):
        run(gdf, model=lambda x, cond, **kw: torch.zeros(x.shape[0], 1), model_inputs=inputs, cfg=3.0)


# -- unconditional inputs --------------------------------------------------------------------
def test_a_0d_tensor_input_of_an_unguided_run_reaches_the_model(gdf):
    # it was torch.cat into a doubled batch even without guidance: a raw "zero-dimensional tensor" RuntimeError
    seen = []
    run(gdf, model=lambda x, cond, scale: seen.append(scale) or torch.tanh(x) * scale, model_inputs={"scale": torch.tensor(0.5)})
    assert all(s.shape == () for s in seen) and seen


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({"scale": torch.tensor(0.5)}, "model_inputs['scale'] has shape ()"),
        ({"c": torch.ones(5, 4)}, "model_inputs['c'] has shape (5, 4)"),
        ({"c": [torch.ones(2, 4), torch.ones(1, 4)]}, "model_inputs['c'][1] has shape (1, 4)"),
        ({"c": {"k": torch.ones(3)}}, "model_inputs['c']['k'] has shape (3,)"),
    ],
)
def test_a_tensor_input_without_the_runs_batch_is_refused_by_name_under_cfg(gdf, inputs, words):
    before = snapshot(inputs)
    with pytest.raises(ValueError) as info:
        run(gdf, model=lambda x, cond, **kw: torch.tanh(x), model_inputs=inputs, cfg=3.0)
    assert words in str(info.value) and "the run's batch (2 samples)" in str(info.value)
    assert same(inputs, before)


@pytest.mark.parametrize(
    ("cond", "uncond", "error", "words"),
    [
        ({"c": torch.ones(2, 4)}, {"c": torch.zeros(3, 4)}, ValueError,
         "unconditional_inputs['c'] has shape (3, 4) but model_inputs['c'] has (2, 4)"),
        ({"c": torch.ones(2, 4)}, {"c": torch.zeros(2, 4), "extra": torch.zeros(2)}, ValueError,
         "unconditional_inputs has keys that model_inputs has not: 'extra'"),
        ({"c": torch.ones(2, 4)}, {"c": [torch.zeros(2, 4)]}, TypeError, "unconditional_inputs['c'] must be a tensor"),
        ({"c": [torch.ones(2, 4)]}, {"c": [torch.zeros(1, 4)]}, ValueError, "unconditional_inputs['c'][0] has shape (1, 4)"),
        ({"c": {"k": torch.ones(2)}}, {"c": {"k": torch.zeros(2), "j": torch.zeros(2)}}, ValueError,
         "unconditional_inputs['c'] has keys that model_inputs['c'] has not: 'j'"),
        ({"c": torch.ones(2, 4)}, [torch.zeros(2, 4)], TypeError, "unconditional_inputs must be a dict"),
    ],
)
def test_unconditional_inputs_must_match_the_conditional_ones(gdf, cond, uncond, error, words):
    before_cond, before_uncond = snapshot(cond), snapshot(uncond)
    with pytest.raises(error) as info:
        run(gdf, model=lambda x, cond, **kw: torch.tanh(x), model_inputs=cond, unconditional_inputs=uncond, cfg=3.0)
    assert words in str(info.value)
    assert same(cond, before_cond) and same(uncond, before_uncond)


def test_matching_unconditional_inputs_sample_and_are_not_mutated(gdf):
    cond, uncond = {"c": torch.ones(2, 4)}, {"c": torch.zeros(2, 4)}
    before = snapshot((cond, uncond))
    x0 = run(gdf, model=lambda x, cond, **kw: torch.tanh(x) * kw["c"].mean(), model_inputs=cond, unconditional_inputs=uncond, cfg=3.0)[-1][0]
    assert torch.isfinite(x0).all()
    assert same((cond, uncond), before)


# -- argument types and domains ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"cfg": "high"}, TypeError, "cfg must be None, a finite number in [-1e4, 1e4] (the guidance weight)"),
        ({"cfg": math.nan}, ValueError, "cfg must be None, a finite number"),
        ({"cfg": math.inf}, ValueError, "got inf"),
        ({"cfg": True}, TypeError, "got bool True"),
        ({"cfg": (1.0, 2.0, 3.0)}, ValueError, "got 3 values"),
        ({"cfg": (1.0, math.nan)}, ValueError, "cfg must be"),
        ({"cfg": 3.0, "cfg_rho": -0.1}, ValueError, "cfg_rho must be a finite number ≥ 0"),
        ({"cfg": 3.0, "cfg_t_stop": 1.5}, ValueError, "cfg_t_stop must be None or a number in [0, 1]"),
        ({"generator": "cuda"}, TypeError, "generator must be a torch.Generator, a list of them (one per sample), a noise source (gdf_core.brownian.BrownianNoise) or None; got str 'cuda'"),
        ({"generator": [torch.Generator()]}, ValueError, "a list of 1 generators, but the batch has 2 samples"),
        ({"generator": [torch.Generator(), 3]}, TypeError, "the list holds int 3"),
        ({"shape": 4}, TypeError, "shape must be a sequence of ints, (batch, ...); got int 4 (a batch of 4: (4, ...))"),
        ({"shape": "2,3"}, TypeError, "shape must be a sequence of ints"),
        ({"shape": (2, 0)}, ValueError, "shape must be one or more positive ints"),
        ({"shape": ()}, ValueError, "shape must be one or more positive ints"),
        ({"shape": (2.0, 3)}, ValueError, "positive ints"),
        ({"t_start": 0.0, "t_end": 0.5, "sampler": "unipc"}, ValueError, "an inversion), and sampler 'unipc' cannot step that way; use 'ddim' (eta = 0), 'euler', 'dpmpp_2m' or 'dpmpp_3m'"),
        ({"t_start": 0.0, "t_end": 0.5, "sampler": {"name": "ddim", "eta": 1.0}}, ValueError, "sampler 'ddim' cannot step that way"),
        ({"t_start": 0.0, "t_end": 0.5, "sampler": "ddpm"}, ValueError, "sampler 'ddpm' cannot step that way"),
        ({"t_start": 0.0, "t_end": 0.5, "sampler": "ddim"}, ValueError, "inverts the x given as x_init (data at t_start) towards noise: pass x_init"),
        ({"t_start": 0.5, "t_end": 0.5}, ValueError, "t_start and t_end must differ"),
        ({"t_start": 1.5}, ValueError, "t_start must be a number in [0, 1]"),
        ({"t_end": -0.1}, ValueError, "t_end must be a number in [0, 1]"),
        ({"t_start": "1"}, TypeError, "t_start must be a number in [0, 1]"),
        ({"t_start": math.nan}, ValueError, "t_start must be"),
        ({"shift": 0}, ValueError, "shift must be None (the GDF's shift) or a finite number > 0, at most 1e6; got 0"),
        ({"shift": 1e300}, ValueError, "at most 1e6"),  # edm's σ overflowed to NaN
        ({"shift": 1e-300}, ValueError, "at least 1e-6"),
        ({"shift": -2.0}, ValueError, "or a finite number > 0"),
        ({"shift": math.inf}, ValueError, "or a finite number > 0"),
        ({"shift": "2"}, TypeError, "or a finite number > 0"),
        ({"timesteps": 0}, ValueError, "timesteps must be a positive int"),
        ({"timesteps": 2.5}, TypeError, "timesteps must be a positive int"),
        ({"timesteps": True}, TypeError, "timesteps must be a positive int"),
        ({"timesteps": 10**10}, ValueError, "of at most 1,000,000"),  # a bare MemoryError after 10 s
        ({"sampler": "ddim", "sampler_params": [("eta", 1.0)]}, TypeError, "sampler_params must be a dict"),
        ({"cfg": 3.0, "model_inputs": {"y": torch.tensor([1, 2])}, "unconditional_inputs": {"y": torch.zeros(2)}}, ValueError,
         "unconditional_inputs['y'] is torch.float32 on cpu but model_inputs['y'] is torch.int64"),
        ({"device": "bogus"}, ValueError, "device must be a torch.device or a device name such as 'cpu', 'cuda' or 'cuda:1'; got 'bogus'"),
        ({"device": 3.5}, ValueError, "device must be a torch.device"),
        ({"device": "meta"}, ValueError, "device 'meta' holds shapes, not values"),
        ({"shape": None, "x_init": torch.zeros(2, 3, device="meta")}, ValueError, "x_init is on device 'meta', which holds no values"),
        ({"dtype": torch.int32}, TypeError, "dtype must be a floating-point torch dtype (e.g. torch.float32); got torch.int32"),
        ({"dtype": "float32"}, TypeError, "dtype must be a floating-point torch dtype"),
        ({"x_init": torch.zeros(3, 5)}, ValueError, "shape (2, 3) does not match x_init's shape (3, 5): pass shape=x_init.shape (or None)"),
        ({"shape": None, "x_init": torch.zeros(0, 3)}, ValueError, "x_init has shape (0, 3), with a dimension of size 0"),
        ({"shape": None, "x_init": torch.zeros(2, 0), "cfg": 3.0}, ValueError, "x_init has shape (2, 0), with a dimension of size 0"),
    ],
)
def test_sample_refuses_bad_arguments_before_calling_the_model(gdf, kwargs, error, words):
    calls = []

    def counting(x, cond, **kw):
        calls.append(1)
        return torch.tanh(x)

    before = snapshot(kwargs)
    with pytest.raises(error) as info:
        run(gdf, model=counting, **kwargs)
    assert words in str(info.value), str(info.value)
    assert calls == []
    assert same(kwargs, before) or any(isinstance(v, torch.Generator) for v in _flat(kwargs))


def _flat(kwargs):
    for v in kwargs.values():
        yield from (v if isinstance(v, (list, tuple)) else [v])


def test_a_bad_cfg_sent_between_steps_is_refused(gdf):
    steps = gdf.sample(model, {"c": torch.ones(2)}, (2, 3), timesteps=3, cfg=2.0)
    next(steps)
    with pytest.raises(TypeError, match="cfg must be"):
        steps.send({"cfg": "higher"})


def test_x_init_is_not_mutated_and_its_batch_is_what_a_generator_list_must_match(gdf):
    x_init = torch.randn(3, 2)
    before = x_init.clone()
    run(gdf, shape=None, x_init=x_init, generator=[torch.Generator().manual_seed(i) for i in range(3)])
    assert torch.equal(x_init, before)
    with pytest.raises(ValueError, match="a list of 2 generators, but the batch has 3 samples"):
        run(gdf, shape=None, x_init=x_init, generator=[torch.Generator(), torch.Generator()])


# -- the grid's ends ---------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["zero_terminal_snr", "flow_shift", "cosine_logsnr"])
@pytest.mark.parametrize(("preset", "target"), [("ddpm", "epsilon"), ("stable_cascade", "epsilon"), ("edm", "edm")])
def test_a_target_undefined_at_pure_noise_on_a_grid_from_there_is_refused_with_the_reason(preset, target, schedule):
    gdf = GDF.from_spec(preset)
    with pytest.raises(ValueError) as info:
        run(gdf, schedule=schedule)
    message = str(info.value)
    assert f"the target {target!r} cannot give x0 at λ = −∞ (pure noise, a = 0)" in message
    assert f"schedule {schedule!r}" in message and "every sample would be NaN" in message
    assert "use a v, x0 or rectified_flows target" in message


@pytest.mark.parametrize("preset", ["v_prediction", "rectified_flow", "v_edm", "sd3"])
@pytest.mark.parametrize("schedule", ["zero_terminal_snr", "flow_shift", "cosine_logsnr", "karras"])
def test_targets_defined_at_pure_noise_sample_finitely_there(preset, schedule):
    x0 = run(GDF.from_spec(preset), schedule=schedule)[-1][0]
    assert torch.isfinite(x0).all()


def test_an_epsilon_target_short_of_pure_noise_samples():
    gdf = GDF.from_spec("ddpm")
    assert torch.isfinite(run(gdf, schedule={"name": "flow_shift", "t_max": 0.999})[-1][0]).all()
    assert torch.isfinite(run(gdf, schedule="zero_terminal_snr", t_start=0.99)[-1][0]).all()


def test_an_x0_target_evaluated_at_clean_data_is_refused():
    gdf = GDF.from_spec({"preset": "v_prediction", "target": "x0"})
    grid = torch.tensor([[0.0], [math.inf], [math.inf]])
    with pytest.raises(ValueError, match=r"the target 'x0' cannot give ε at λ = \+∞"):
        rc.check_grid_ends(gdf.target, gdf.input_scaler, grid)
    rc.check_grid_ends(gdf.target, gdf.input_scaler, torch.tensor([[-1.0], [1.0], [math.inf]]))  # +∞ last: only stepped to


def test_a_grid_with_a_nan_end_is_refused_as_nan_not_as_an_infinity():
    gdf = GDF.from_spec("v_prediction")
    for grid in (torch.tensor([[math.nan], [1.0], [math.inf]]), torch.tensor([[-1.0], [math.nan], [math.inf]])):
        with pytest.raises(ValueError, match=r"schedule 'karras' has λ = NaN at its (first|last) evaluated level") as info:
            rc.check_grid_ends(gdf.target, gdf.input_scaler, grid, schedule=build("schedule", "karras"))
        assert "+∞" not in str(info.value)


def test_a_training_only_schedule_is_refused_for_sampling(gdf):
    with pytest.raises(ValueError, match="the schedule 'edm_train' only draws λ for training"):
        run(gdf, schedule="edm_train")


def test_setup_limits_refuses_a_bad_shift(gdf):
    with pytest.raises(ValueError, match=r"limits.shift: Input should be greater than 0; got 0; allowed: a finite number > 0"):
        GDF.from_spec("stable_cascade").setup_limits(shift=0)


def test_numpy_ints_are_taken_as_timesteps_and_shape(gdf):
    import numpy as np

    assert run(gdf, timesteps=np.int64(3), shape=(np.int64(2), 3))[-1][1].shape == (2, 3)


def test_a_wrong_guide_model_output_names_the_guide_model():
    gdf = GDF.from_spec("v_prediction")
    with pytest.raises(ValueError, match=r"guide_model returned shape \(1, 3\)"):
        list(gdf.sample(model, {}, (2, 3), timesteps=3, guidance="autoguidance", guide_model=lambda x, c, **kw: x[:1]))


def test_a_sampler_sent_after_the_last_step_is_still_checked(gdf):
    steps = gdf.sample(model, {}, (2, 3), timesteps=2, cfg=None)
    next(steps)
    next(steps)
    with pytest.raises(SpecError, match="unknown sampler 'no_such_sampler'"):
        steps.send({"sampler": "no_such_sampler"})


def test_a_sent_x_of_another_dtype_is_refused_not_taken_up(gdf):
    steps = gdf.sample(model, {}, (2, 3), timesteps=3, cfg=None, dtype=torch.float16)
    next(steps)
    with pytest.raises(ValueError, match="x sent to sample.. is torch.float64 on cpu, the run's x torch.float16"):
        steps.send({"x": torch.zeros(2, 3, dtype=torch.float64)})


# -- finite values far outside what float32 holds: refused, not NaN, inf or an overflow mid-run --------------
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cfg": 1e39}, "a finite number in [-1e4, 1e4]"),  # a RuntimeError after the first model call before
        ({"guidance": {"name": "apg", "scale": 1e39}}, "guidance.apg.scale"),  # silent NaN before
        ({"guidance": {"name": "cfg_zero_star", "scale": -1e39}}, "guidance.cfg_zero_star.scale"),
        ({"sampler": {"name": "euler_ancestral", "s_noise": 1e39}}, "sampler.euler_ancestral.s_noise"),  # inf before
        ({"sampler": {"name": "heun", "s_noise": 1e39, "s_churn": 1.0}}, "sampler.heun.s_noise"),
        ({"sampler": {"name": "ddim", "eta": 1e308}}, "sampler.ddim.eta"),  # NaN before
    ],
)
def test_values_beyond_float32_are_refused_before_the_model_is_called(gdf, kwargs, words):
    calls = []

    def counting(x, cond, **kw):
        calls.append(1)
        return torch.tanh(x)

    with pytest.raises((ValueError, TypeError)) as info:
        list(gdf.sample(counting, {}, (2, 3), timesteps=3, **kwargs))
    assert words in str(info.value), str(info.value)
    assert calls == []


@pytest.mark.parametrize(
    ("options", "mu", "words"),
    [
        ({"flow_shift": None}, None, "flow_shift=None must be a number"),  # a bare TypeError before
        ({"flow_shift": "3"}, None, "flow_shift='3' must be a number"),  # silently taken as 3.0 before
        ({"flow_shift": True}, None, "flow_shift=True must be a number"),
        ({"num_train_timesteps": "1000"}, None, "num_train_timesteps='1000' must be an integer"),
        ({"flow_shift": 1e17}, None, "flow_shift"),  # NaN before
        ({"use_dynamic_shifting": True}, 800.0, "mu"),  # OverflowError at sampling time before
        ({"use_dynamic_shifting": True}, 40.0, "mu"),  # NaN before
    ],
)
def test_flow_sigma_options_out_of_reach_are_refused_at_conversion(options, mu, words):
    config = {"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": True, "prediction_type": "flow_prediction", **options}
    with pytest.raises(SpecError, match=words):
        GDF.from_diffusers(config, **({"mu": mu} if mu is not None else {}))


def test_a_resolution_shift_beyond_its_range_is_refused_by_name():
    gdf = GDF.from_spec({"preset": "sd3", "shift": {"name": "resolution", "base_shift": 800.0, "max_shift": 800.5}})
    with pytest.raises(ValueError, match="the resolution shift gives μ = 800"):
        gdf.diffuse(torch.randn(2, 4, 8, 8))


@pytest.mark.parametrize("shift", [1e7, 1e300, 1e-9])
def test_the_gdfs_own_shift_has_samples_bounds(shift):
    # 1e300 was taken (only "finite and > 0" was checked) and the edm preset sampled NaN with it
    with pytest.raises(SpecError, match=r"shift: a shift is a number in \[1e-6, 1e6\]"):
        GDF.from_spec({"preset": "edm", "shift": shift})
    with pytest.raises(SpecError, match=r"a shift must be a finite number in \[1e-6, 1e6\]"):
        GDF("cosine", "vp", "v", "logsnr", "constant", shift=shift)
    assert GDF.from_spec({"preset": "edm", "shift": 1e6}).shift == 1e6


@pytest.mark.parametrize("name", ["shift", "loss_shift"])
@pytest.mark.parametrize(("value", "error"), [(-1.0, ValueError), (math.nan, ValueError), (1e300, ValueError), ("2", TypeError)])
def test_diffuse_checks_its_shifts_by_name(name, value, error):
    # -1 was math's bare "math domain error", NaN and 1e300 silently NaN, "2" a TypeError from deep inside
    with pytest.raises(error, match=rf"^{name} must be"):
        GDF.from_spec("edm").diffuse(torch.randn(4, 2), **{name: value})


@pytest.mark.parametrize("shift", [1e6, 1e-6])
def test_setup_limits_refuses_a_shift_that_leaves_nothing_to_stretch(shift):
    # both ends of the clamped cosine schedule fall on one λ: the stretch divided by 0 and every sample was NaN
    with pytest.raises(ValueError, match="setup_limits: schedule 'cosine' at shift=.* there is no range to stretch"):
        GDF.from_spec("stable_cascade").setup_limits(shift=shift)
    with pytest.raises(SpecError) as info:
        GDF.from_spec({"preset": "stable_cascade", "limits": {"shift": shift}})
    assert info.value.issues[0].path == "limits"


def test_diffuse_checks_a_t_it_can_check_without_reading_a_tensor() -> None:
    """A Python t outside [0, 1], a string, a bool or an integer tensor is refused by name (a string was
    a raw torch TypeError; t = 2.0 was clamped silently; True was t = 1)."""
    gdf = GDF.from_spec("stable_cascade")
    x0 = torch.zeros(2, 3)
    for bad, error in [(2.0, ValueError), (-0.5, ValueError), ("a", TypeError), (True, TypeError),
                       (torch.tensor([0, 1]), TypeError)]:
        with pytest.raises(error, match="diffuse: t must"):
            gdf.diffuse(x0, t=bad)
    assert torch.isfinite(gdf.diffuse(x0, t=0.5)[0]).all()
