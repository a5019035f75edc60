"""The GDF object: diffuse/undiffuse numerics, sampling with guidance, and its fixes of the original."""

from __future__ import annotations

import itertools

import pytest
import torch

from gdf_core import GDF, SampleStep, SpecError, registry
from gdf_plugins.presets import PRESETS

ENDS = torch.tensor([0.0, 1e-6, 0.5, 1 - 1e-6, 1.0])


def t_schedules():
    """Schedules of t with finite ends (training schedules; sampling schedules may reach λ = ±∞ by design)."""
    names = []
    for n in registry.names("schedule"):
        cls = registry.get("schedule", n)
        if not getattr(cls, "supports_t", True) or getattr(cls, "example_spec", None) is not None:
            continue
        if torch.isfinite(cls()(torch.tensor([0.0, 1.0]))).all():
            names.append(n)
    return names + ["interpolated"]


def build_gdf(schedule, scaler, target, noise_cond="logsnr", loss_weight="constant"):
    spec_schedule = {"name": "interpolated", "scheduler1": "cosine", "scheduler2": "rectified_flows"} if schedule == "interpolated" else schedule
    return GDF(spec_schedule, scaler, target, noise_cond, loss_weight)


@pytest.mark.parametrize(
    "schedule,scaler,target",
    list(itertools.product(t_schedules(), ["vp", "lerp"], registry.names("target"))),
)
def test_diffuse_and_undiffuse_are_finite_at_both_ends(schedule, scaler, target):
    gdf = build_gdf(schedule, scaler, target)
    x0 = torch.randn(ENDS.shape[0], 3)
    bound = getattr(gdf.target, "x0_bound", None)
    if bound is not None:  # a target that limits x̂0 gives it back within its bound
        x0 = 0.99 * bound * torch.tanh(x0)
    eps = torch.randn_like(x0)
    noised, _, tgt, logsnr, cond, weight = gdf.diffuse(x0, epsilon=eps, t=ENDS)
    for name, value in [("noised", noised), ("target", tgt), ("logsnr", logsnr), ("cond", cond), ("weight", weight)]:
        assert torch.isfinite(value).all(), f"{name} not finite: {value}"
    x0_back, eps_back = gdf.undiffuse(noised, logsnr, tgt)
    assert torch.isfinite(x0_back).all() and torch.isfinite(eps_back).all()
    # Where both a and b are away from 0 the round trip recovers x0 and ε.
    a, b = gdf.input_scaler(logsnr)
    inner = (a > 1e-3) & (b > 1e-3)
    torch.testing.assert_close(x0_back[inner], x0[inner], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(eps_back[inner], eps[inner], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("noise_cond", registry.names("noise_cond"))
@pytest.mark.parametrize("loss_weight", [n for n in registry.names("loss_weight") if n != "composed"])
def test_noise_conds_and_loss_weights_are_finite_over_a_schedule(noise_cond, loss_weight):
    spec_cond = {"name": "discrete", "noise_cond": "cosine_t"} if noise_cond == "discrete" else noise_cond
    if noise_cond == "piecewise_linear":
        spec_cond = {"name": "piecewise_linear", "x": [0.0, 0.5, 1.0], "y": [0.999, 0.5, 0.001]}
    gdf = GDF("cosine", "vp", "epsilon", spec_cond, loss_weight)
    _, _, _, _, cond, weight = gdf.diffuse(torch.randn(5, 2), t=ENDS)
    assert torch.isfinite(cond.float()).all() and torch.isfinite(weight).all() and (weight >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("preset", ["stable_cascade", "edm", "rectified_flow", "v_prediction"])
def test_low_and_high_precision_inputs_keep_their_dtype(preset, dtype):
    gdf = GDF.from_spec(preset)
    x0 = torch.randn(4, 3, dtype=dtype)
    outputs = gdf.diffuse(x0, t=torch.tensor([0.1, 0.4, 0.7, 0.9]) if preset != "edm" else None)
    *data, logsnr, cond, weight = outputs
    assert all(o.dtype == dtype for o in data)
    at_least_32 = torch.promote_types(dtype, torch.float32)  # λ, the noise condition and a loss weight are float32 at least
    assert logsnr.dtype == at_least_32 and weight.dtype == at_least_32
    assert cond.dtype == at_least_32 or not cond.is_floating_point()
    assert all(torch.isfinite(o).all() for o in outputs)
    x0_back, eps_back = gdf.undiffuse(outputs[0], outputs[3], outputs[2])
    assert x0_back.dtype == dtype and eps_back.dtype == dtype


def test_diffuse_does_not_mutate_its_inputs():
    gdf = GDF.from_spec({"preset": "stable_cascade", "offset_noise": 0.1})
    x0, eps, t = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4), torch.tensor([0.0, 0.5, 1.0])
    copies = [x0.clone(), eps.clone(), t.clone()]
    gdf.diffuse(x0, epsilon=eps, t=t)
    assert all(torch.equal(a, b) for a, b in zip([x0, eps, t], copies))


def test_generator_makes_training_draws_reproducible():
    gdf = GDF.from_spec("edm")
    x0 = torch.randn(8, 4)
    first = gdf.diffuse(x0, generator=torch.Generator().manual_seed(1))
    second = gdf.diffuse(x0, generator=torch.Generator().manual_seed(1))
    other = gdf.diffuse(x0, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first[3], other[3])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_half_precision_batch_gets_the_float32_batchs_levels_and_noise_conditions(preset, dtype):
    """In bfloat16 a timestep 999 would be 1000 and t near 1 would move by 2⁻⁸: λ and the condition are not rounded to x0's dtype."""
    gdf = GDF.from_spec(preset)
    x0, t = torch.randn(4, 3), torch.tensor([0.02, 0.4, 0.93, 0.999])
    draws = not gdf.schedule.supports_t  # edm's, v_edm's and edm2's training schedules draw λ themselves

    def diffuse(x: torch.Tensor, eps: torch.Tensor):
        kwargs = {"generator": torch.Generator().manual_seed(0)} if draws else {"t": t}
        return gdf.diffuse(x, epsilon=eps, **kwargs)

    full = diffuse(x0, torch.randn(4, 3))
    half = diffuse(x0.to(dtype), full[1].to(dtype))
    assert torch.equal(half[3], full[3]) and torch.equal(half[4], full[4])


def test_offset_noise_on_a_batch_of_scalars_keeps_their_shape():
    gdf = GDF.from_spec({"preset": "stable_cascade", "offset_noise": 0.1})
    assert all(o.shape == (3,) for o in gdf.diffuse(torch.randn(3)))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"epsilon": [0.0] * 12}, TypeError, "epsilon must be a torch.Tensor, got list"),
        ({"epsilon": torch.zeros(3, 4, dtype=torch.int64)}, TypeError, "epsilon must be a floating-point tensor, got dtype torch.int64"),
        ({"epsilon": torch.zeros(3, 5)}, ValueError, "epsilon has shape (3, 5); it needs x0's, (3, 4)"),
        ({"offset": torch.zeros(3, 5)}, ValueError, "offset has shape (3, 5); it needs one that broadcasts to x0's, (3, 4)"),
        ({"offset": torch.zeros(2, 3, 4)}, ValueError, "offset has shape (2, 3, 4); it needs one that broadcasts to x0's"),
        ({"offset": "0.1"}, TypeError, "offset must be a torch.Tensor, got str"),
    ],
)
def test_diffuse_refuses_a_wrong_epsilon_or_offset_by_name(kwargs, error, words):
    gdf = GDF.from_spec({"preset": "stable_cascade", "offset_noise": 0.1})
    with pytest.raises(error) as info:
        gdf.diffuse(torch.randn(3, 4), **kwargs)
    assert words in str(info.value), str(info.value)


def test_diffuse_returns_a_given_epsilon_in_x0s_dtype():
    eps = torch.randn(3, 4, dtype=torch.float64)
    _, epsilon, *_ = GDF.from_spec("edm").diffuse(torch.randn(3, 4), epsilon=eps)
    assert epsilon.dtype == torch.float32 and torch.equal(epsilon, eps.float())


def test_offset_noise_adds_a_per_channel_constant():
    gdf = GDF.from_spec({"preset": "stable_cascade", "offset_noise": 0.5})
    x0, eps = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    offset = torch.ones(2, 3, 1, 1)
    _, epsilon, *_ = gdf.diffuse(x0, epsilon=eps, t=torch.tensor([0.5, 0.5]), offset=offset)
    torch.testing.assert_close(epsilon, torch.full_like(eps, 0.5))


def test_setup_limits_gives_pure_noise_at_t1_and_data_at_t0():
    gdf = GDF.from_spec("stable_cascade")
    gdf.setup_limits()
    a, b = gdf.input_scaler(gdf.schedule(torch.tensor([1.0, 0.0])))
    torch.testing.assert_close(a, torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(b, torch.tensor([1.0, 0.0]), atol=1e-6, rtol=0)
    assert GDF.from_spec(gdf.to_spec()) == gdf
    declarative = GDF.from_spec({"preset": "stable_cascade", "limits": {}})
    assert declarative == gdf


def test_bad_inputs_get_clear_errors():
    gdf = GDF.from_spec("stable_cascade")
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor, got list"):
        gdf.diffuse([1.0, 2.0])
    with pytest.raises(ValueError, match=r"t must have shape \(3,\)"):
        gdf.diffuse(torch.randn(3, 2), t=torch.rand(4))
    with pytest.raises(ValueError, match="timesteps must be a positive int"):
        next(gdf.sample(lambda x, c: x, {}, (2, 2), timesteps=0))
    with pytest.raises(SpecError, match="sampler: unknown sampler 'dddim'; did you mean 'ddim'"):
        next(gdf.sample(lambda x, c: x, {}, (2, 2), sampler="dddim"))


# -- sampling ------------------------------------------------------------------------
class RecordingModel:
    """pred = 0.3·x + 0.1·cond per sample; records the batch size of every call."""

    def __init__(self):
        self.batches = []

    def __call__(self, x, noise_cond, cond=None):
        self.batches.append(x.shape[0])
        pred = 0.3 * x + 0.05 * noise_cond.view(-1, *([1] * (x.dim() - 1)))
        if cond is not None:
            pred = pred + 0.1 * cond.view(-1, *([1] * (x.dim() - 1)))
        return pred


def test_guidance_off_calls_the_model_with_a_single_batch():
    """The original called the model with doubled inputs against one batch of x here."""
    gdf = GDF.from_spec("stable_cascade")
    model = RecordingModel()
    cond = torch.tensor([1.0, -1.0])
    list(gdf.sample(model, {"cond": cond}, (2, 3), timesteps=4, cfg=3.0, cfg_t_stop=0.6, sampler="ddim"))
    # t = 1, 0.75 guided (doubled batch); t = 0.5, 0.25 unguided (single batch)
    assert model.batches == [4, 4, 2, 2]


def test_guidance_rescale_uses_each_samples_own_std():
    """A sample's guided prediction must not depend on the other samples in the batch."""
    gdf = GDF.from_spec("stable_cascade")
    torch.manual_seed(0)
    x = torch.randn(2, 6)
    cond = torch.tensor([[0.5], [40.0]]).expand(2, 6).contiguous()

    def model(x, noise_cond, cond):
        return 0.3 * x + cond

    alone = list(gdf.sample(model, {"cond": cond[:1]}, (1, 6), x_init=x[:1], timesteps=3, cfg=4.0, cfg_rho=0.7, sampler="ddim"))
    together = list(gdf.sample(model, {"cond": cond}, (2, 6), x_init=x, timesteps=3, cfg=4.0, cfg_rho=0.7, sampler="ddim"))
    torch.testing.assert_close(alone[-1][1][0], together[-1][1][0])


def test_cfg_pair_interpolates_the_weight_over_t():
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(1, 4)
    cond = torch.ones(1)
    pair = list(gdf.sample(RecordingModel(), {"cond": cond}, (1, 4), x_init=x, timesteps=1, cfg=(5.0, 1.0), cfg_rho=0, sampler="ddim"))
    single = list(gdf.sample(RecordingModel(), {"cond": cond}, (1, 4), x_init=x, timesteps=1, cfg=5.0, cfg_rho=0, sampler="ddim"))
    torch.testing.assert_close(pair[-1][2], single[-1][2])  # t = 1 → w = w₁


def test_list_and_dict_model_inputs_are_batched_for_guidance():
    gdf = GDF.from_spec("stable_cascade")
    seen = {}

    def model(x, noise_cond, clip, extras):
        seen["clip"], seen["extras"] = clip, extras
        return 0.3 * x

    clip = [torch.ones(2, 3), torch.ones(2, 1)]
    extras = {"a": torch.ones(2, 2)}
    list(gdf.sample(model, {"clip": clip, "extras": extras}, (2, 2), timesteps=1, sampler="ddim",
                    unconditional_inputs={"clip": [torch.full((2, 3), 7.0), None]}))
    assert seen["clip"][0].shape == (4, 3) and torch.equal(seen["clip"][0][2:], torch.full((2, 3), 7.0))
    assert torch.equal(seen["clip"][1][2:], torch.zeros(2, 1))
    assert torch.equal(seen["extras"]["a"][2:], torch.zeros(2, 2))


def test_send_replaces_x_between_steps():
    gdf = GDF.from_spec("stable_cascade")
    run = gdf.sample(RecordingModel(), {}, (2, 3), timesteps=3, cfg=None, sampler="ddim")
    next(run)
    replaced = torch.zeros(2, 3)
    x0, x, pred = run.send({"x": replaced, "cfg": None})
    expected = next(gdf.sample(RecordingModel(), {}, (2, 3), timesteps=3, cfg=None, sampler="ddim", x_init=replaced, t_start=2 / 3))
    torch.testing.assert_close(pred, expected[2])


def test_sampling_is_reproducible_with_a_generator_and_reports_each_step():
    gdf = GDF.from_spec("stable_cascade")
    steps = []
    run = lambda seed, cb=None: list(gdf.sample(RecordingModel(), {}, (3, 2), timesteps=5, cfg=None, sampler="ddpm",
                                              generator=torch.Generator().manual_seed(seed), callback=cb))
    a, b, c = run(0, steps.append), run(0), run(1)
    assert torch.equal(a[-1][1], b[-1][1]) and not torch.equal(a[-1][1], c[-1][1])
    assert [s.step for s in steps] == [0, 1, 2, 3, 4] and all(isinstance(s, SampleStep) for s in steps)
    assert torch.equal(steps[-1].x, a[-1][1])


def test_sampler_params_override_the_samplers_parameters():
    gdf = GDF.from_spec("stable_cascade")
    gen = lambda: torch.Generator().manual_seed(0)
    ddim_eta1 = list(gdf.sample(RecordingModel(), {}, (2, 2), timesteps=4, cfg=None, sampler="ddim", sampler_params={"eta": 1.0}, generator=gen()))
    ddpm = list(gdf.sample(RecordingModel(), {}, (2, 2), timesteps=4, cfg=None, sampler="ddpm", generator=gen()))
    torch.testing.assert_close(ddim_eta1[-1][1], ddpm[-1][1])
