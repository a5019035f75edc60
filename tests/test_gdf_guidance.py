"""Guidance in ``GDF.sample``: by name, spec or instance; in a GDF spec; the original's cfg arguments; guide_model."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core import GDF, SpecError, UnknownComponentError, build
from gdf_plugins.guidance import APG, CFG

PRESETS = ["stable_cascade", "ddpm", "v_prediction", "edm", "rectified_flow"]


def model(x, noise_cond, cond=None):
    """Elementwise (so a batch of 2B gives each sample the same bits as a batch of B), conditional on ``cond``."""
    view = (-1,) + (1,) * (x.dim() - 1)
    pred = 0.3 * torch.tanh(x) + 0.05 * noise_cond.view(view).to(x.dtype)
    return pred if cond is None else pred + 0.4 * torch.sin(3 * cond) * (1 + x * x).rsqrt()


def weak_model(x, noise_cond, cond=None):
    return 0.5 * model(x, noise_cond, cond) + 0.1 * x


class Recording:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, x, noise_cond, cond=None):
        self.batches.append(x.shape[0])
        return model(x, noise_cond, cond)


def run(gdf, steps=6, sampler="ddim", cond_model=model, **kwargs):
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cond = torch.linspace(-1, 1, 24).reshape(3, 2, 4)
    return list(gdf.sample(cond_model, {"cond": cond}, x_init.shape, x_init=x_init, timesteps=steps, sampler=sampler, **kwargs))


def original_loop(gdf, *, cfg, cfg_rho, cfg_t_stop=None, cfg_t_start=None, steps=6, sampler="ddim"):
    """The engine's hard-coded guidance before it became a kind, written out: doubled batch, lerp(u, c, w), per-sample std rescale."""
    x = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cond = torch.linspace(-1, 1, 24).reshape(3, 2, 4)
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    logsnrs = (gdf.sample_schedule or gdf.schedule)(t)[:, None].expand(-1, 3)
    sampler_obj = build("sampler", sampler)
    from gdf_core.protocols import SamplingState

    state, xs = SamplingState(logsnrs=logsnrs), []
    for i in range(steps):
        state.step = i
        t_now = float(t[i])
        guided = (cfg_t_stop is None or t_now >= cfg_t_stop) and (cfg_t_start is None or t_now <= cfg_t_start)
        w = float(cfg[0]) * t_now + float(cfg[1]) * (1 - t_now) if isinstance(cfg, tuple) else float(cfg)

        def denoise(x, logsnr):
            c = gdf.noise_cond(logsnr)
            if not guided:
                return gdf.undiffuse(x, logsnr, model(x, c, cond))
            p_c, p_u = model(torch.cat([x, x]), c.repeat(2), torch.cat([cond, torch.zeros_like(cond)])).chunk(2)
            pred = torch.lerp(p_u, p_c, w)
            if cfg_rho > 0:  # the engine's arithmetic: a two-pass std per sample, one full-size multiply
                def std(v):
                    flat = v.flatten(1)
                    return (torch.linalg.vector_norm(flat - flat.mean(1, keepdim=True), dim=1) / math.sqrt(flat.shape[1] - 1)).view(-1, 1, 1)

                pred = pred * (std(p_c) / (std(pred) + 1e-9) * cfg_rho + (1 - cfg_rho))
            return gdf.undiffuse(x, logsnr, pred)

        x = sampler_obj.step(denoise, x, logsnrs[i], logsnrs[i + 1], scaler=gdf.input_scaler, state=state)
        xs.append(x)
    return xs


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize(
    "cfg_args",
    [
        {"cfg": 3.0, "cfg_rho": 0.7},
        {"cfg": 7.5, "cfg_rho": 0.0},
        {"cfg": (6.0, 1.5), "cfg_rho": 0.0},
        {"cfg": (2.0, 8.0), "cfg_rho": 0.5, "cfg_t_stop": 0.3},
        {"cfg": 4.0, "cfg_rho": 0.7, "cfg_t_stop": 0.2, "cfg_t_start": 0.7},
    ],
    ids=["default", "no_rescale", "pair", "pair_stop", "interval"],
)
def test_the_originals_cfg_arguments_give_todays_results_bit_for_bit(preset, cfg_args):
    gdf = GDF.from_spec(preset)
    want = original_loop(gdf, **cfg_args)
    got = [x for _, x, _ in run(gdf, **cfg_args)]
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    as_guidance = {"name": "cfg", "scale": list(cfg_args["cfg"]) if isinstance(cfg_args["cfg"], tuple) else cfg_args["cfg"], "rescale": cfg_args["cfg_rho"]}
    if "cfg_t_stop" in cfg_args:
        as_guidance["interval"] = [cfg_args["cfg_t_stop"], cfg_args.get("cfg_t_start", 1.0)]
    assert all(torch.equal(g, x) for g, (_, x, _) in zip(got, run(gdf, guidance=as_guidance)))


def test_the_default_is_still_the_originals_cfg_3_with_rho_0_7():
    gdf = GDF.from_spec("stable_cascade")
    default = run(gdf)
    explicit = run(gdf, guidance={"name": "cfg", "scale": 3.0, "rescale": 0.7})
    assert torch.equal(default[-1][1], explicit[-1][1])


def test_a_guidance_by_name_spec_class_or_instance_is_the_same():
    gdf = GDF.from_spec("v_prediction")
    by_instance = run(gdf, guidance=APG(scale=3.0))[-1][1]
    for given in ("apg", {"name": "apg"}, APG):
        assert torch.equal(run(gdf, guidance=given)[-1][1], by_instance)


def test_cfg_at_scale_1_is_unguided_sampling():
    gdf = GDF.from_spec("stable_cascade")
    assert torch.equal(run(gdf, guidance={"name": "cfg", "scale": 1.0})[-1][1], run(gdf, cfg=None)[-1][1])


@pytest.mark.parametrize("preset", PRESETS)
def test_apg_with_eta_1_is_cfg_in_sampling(preset):
    """APG works on x0, cfg on the model's prediction: the same guidance for the built-in (affine) targets."""
    gdf = GDF.from_spec(preset)
    apg = run(gdf, guidance={"name": "apg", "scale": 5.0, "eta": 1.0})[-1][1]
    cfg = run(gdf, guidance={"name": "cfg", "scale": 5.0})[-1][1]
    torch.testing.assert_close(apg, cfg, rtol=1e-4, atol=1e-5)


def test_autoguidance_with_the_model_as_its_own_guide_is_unguided():
    gdf = GDF.from_spec("edm")
    guided = run(gdf, guidance={"name": "autoguidance", "scale": 2.5}, guide_model=model)[-1][1]
    assert torch.equal(guided, run(gdf, cfg=None)[-1][1])
    weak = run(gdf, guidance={"name": "autoguidance", "scale": 2.5}, guide_model=weak_model)[-1][1]
    assert (weak - guided).abs().max() > 1e-3


def test_autoguidance_makes_no_unconditional_call():
    recording = Recording()
    run(GDF.from_spec("edm"), cond_model=recording, guidance="autoguidance", guide_model=weak_model)
    assert recording.batches == [3] * 6


def test_an_interval_skips_the_unconditional_call_outside_it():
    recording = Recording()
    run(GDF.from_spec("stable_cascade"), steps=4, cond_model=recording, guidance={"name": "apg", "interval": [0.6, 1.0]})
    assert recording.batches == [6, 6, 3, 3]  # t = 1, 0.75 guided; 0.5, 0.25 not


def test_guide_model_is_required_by_autoguidance_and_refused_elsewhere():
    gdf = GDF.from_spec("edm")
    with pytest.raises(ValueError, match="'autoguidance' needs guide_model="):
        run(gdf, guidance="autoguidance")
    with pytest.raises(ValueError, match="guide_model= is only used by a guidance that asks for a guide"):
        run(gdf, guidance="cfg", guide_model=weak_model)


def test_guidance_and_the_cfg_arguments_together_are_refused():
    with pytest.raises(ValueError, match="both guidance= and the original's cfg arguments"):
        run(GDF.from_spec("edm"), guidance="apg", cfg=5.0)


def test_bad_guidances_are_refused_with_their_path():
    gdf = GDF.from_spec("edm")
    with pytest.raises(UnknownComponentError, match="cfg_zero_star"):
        run(gdf, guidance="cfg_zero")
    with pytest.raises(SpecError, match="guidance"):
        run(gdf, guidance={"name": "apg", "eta": 2.0})
    with pytest.raises(TypeError, match=r"cfg must be None, a finite number in \[-1e4, 1e4\] \(the guidance weight\) or a pair of them"):
        run(gdf, cfg="high")
    with pytest.raises(ValueError, match=r"cfg_t_stop must be None or a number in \[0, 1\]; got nan"):
        run(gdf, cfg=3.0, cfg_t_stop=float("nan"))
    with pytest.raises(ValueError, match=r"cfg_rho must be a finite number ≥ 0 \(0: no guidance rescale\); got -1.0"):
        run(gdf, cfg=3.0, cfg_rho=-1.0)


def test_cfg_arguments_that_guide_at_no_t_sample_unguided_as_the_original():
    gdf = GDF.from_spec("stable_cascade")
    recording = Recording()
    unguided = run(gdf, cond_model=recording, cfg=3.0, cfg_t_stop=0.8, cfg_t_start=0.2)[-1][1]
    assert torch.equal(unguided, run(gdf, cfg=None)[-1][1]) and set(recording.batches) == {3}


@pytest.mark.parametrize("interval", [{"cfg_t_stop": 2.0}, {"cfg_t_start": -1.0}])
def test_cfg_interval_ends_outside_0_1_are_refused(interval):
    # the original sampled unguided here; gdf refuses a t outside [0, 1] at the door (issue 11)
    with pytest.raises(ValueError, match=r"must be None or a number in \[0, 1\]"):
        run(GDF.from_spec("stable_cascade"), cfg=3.0, **interval)


def test_a_gdf_spec_takes_a_guidance_that_sample_uses_by_default():
    gdf = GDF.from_spec({"preset": "rectified_flow", "guidance": {"name": "cfg_zero_star", "scale": 4.0}})
    assert gdf.to_spec()["guidance"] == {"name": "cfg_zero_star", "scale": 4.0}
    assert GDF.from_spec(gdf.to_spec()) == gdf
    by_default = run(gdf)[-1][1]
    assert torch.equal(by_default, run(GDF.from_spec("rectified_flow"), guidance={"name": "cfg_zero_star", "scale": 4.0})[-1][1])
    # explicit cfg arguments and guidance= both take precedence over the spec's guidance
    assert torch.equal(run(gdf, cfg=None)[-1][1], run(GDF.from_spec("rectified_flow"), cfg=None)[-1][1])
    assert torch.equal(run(gdf, guidance="cfg")[-1][1], run(GDF.from_spec("rectified_flow"), guidance="cfg")[-1][1])


def test_cfg_zero_star_zero_init_leaves_a_rectified_flow_sample_in_place():
    gdf = GDF.from_spec("rectified_flow")
    first_x = run(gdf, guidance={"name": "cfg_zero_star", "zero_init_steps": 1})[0][1]
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(first_x, x_init)


def test_apg_momentum_starts_fresh_in_every_run():
    gdf = GDF.from_spec("stable_cascade")
    guidance = APG(scale=6.0, momentum=-0.5)
    first, second = run(gdf, guidance=guidance), run(gdf, guidance=guidance)
    assert torch.equal(first[-1][1], second[-1][1])
    assert (first[-1][1] - run(gdf, guidance=APG(scale=6.0))[-1][1]).abs().max() > 1e-4


def test_send_switches_the_guidance_between_steps():
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cond = {"cond": torch.linspace(-1, 1, 24).reshape(3, 2, 4)}
    steps = gdf.sample(model, cond, x_init.shape, x_init=x_init, timesteps=4, sampler="ddim", guidance="cfg")
    next(steps)
    _, x_apg, _ = steps.send({"guidance": {"name": "apg", "scale": 5.0}})
    x_from_cfg = list(gdf.sample(model, cond, x_init.shape, x_init=x_init, timesteps=4, sampler="ddim", guidance="cfg"))[0][1]
    resumed = list(gdf.sample(model, cond, x_init.shape, x_init=x_from_cfg, t_start=0.75, timesteps=3, sampler="ddim", guidance={"name": "apg", "scale": 5.0}))
    torch.testing.assert_close(x_apg, resumed[0][1])
    _, x_plain, _ = steps.send({"cfg": None})
    assert x_plain.shape == x_init.shape


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("guidance", ["cfg", "apg", "cfg_zero_star"])
def test_guided_sampling_keeps_the_dtype_and_stays_finite(guidance, dtype):
    gdf = GDF.from_spec("v_prediction")
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0)).to(dtype)
    out = list(gdf.sample(model, {"cond": torch.ones(3, 2, 4, dtype=dtype)}, x_init.shape, x_init=x_init, timesteps=5, sampler="dpmpp_2m", guidance={"name": guidance, "scale": 7.0}))
    x0, x, pred = out[-1]
    assert x.dtype == dtype and x0.dtype == dtype and torch.isfinite(x.float()).all()


def test_cfg_guidance_interval_is_the_cfg_t_arguments():
    gdf = GDF.from_spec("ddpm")
    legacy = run(gdf, cfg=5.0, cfg_rho=0.0, cfg_t_stop=0.4)[-1][1]
    assert torch.equal(legacy, run(gdf, guidance=CFG(scale=5.0, interval=(0.4, 1.0)))[-1][1])


def test_send_cfg_sets_the_scale_of_the_running_guidance():
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cond = {"cond": torch.linspace(-1, 1, 24).reshape(3, 2, 4)}
    steps = gdf.sample(model, cond, x_init.shape, x_init=x_init, timesteps=3, sampler="ddim", guidance={"name": "apg", "eta": 0.5})
    _, x_first, _ = next(steps)
    _, x_sent, _ = steps.send({"cfg": 9.0})
    resumed = list(gdf.sample(model, cond, x_init.shape, x_init=x_first, t_start=2 / 3, timesteps=2, sampler="ddim", guidance={"name": "apg", "eta": 0.5, "scale": 9.0}))
    torch.testing.assert_close(x_sent, resumed[0][1])
    with pytest.raises(ValueError, match="takes no cfg_rho"):
        steps.send({"cfg_rho": 0.5})


@pytest.mark.parametrize("where", ["guidance=", "spec", "sent guidance"])
def test_send_cfg_keeps_the_rest_of_a_running_cfg_guidance(where):
    """send({"cfg": w}) sets the scale of a running cfg guidance and keeps its rescale and interval (it rebuilt
    the guidance from sample()'s cfg arguments, rescale 0.7 and no interval, wherever the guidance came from)."""
    own = {"name": "cfg", "scale": 3.0, "rescale": 0.0, "interval": [0.5, 1.0]}
    gdf = GDF.from_spec({"preset": "stable_cascade", "guidance": own} if where == "spec" else "stable_cascade")
    x_init = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cond = {"cond": torch.linspace(-1, 1, 24).reshape(3, 2, 4)}
    kwargs = {"guidance": own} if where == "guidance=" else {}
    steps = gdf.sample(model, cond, x_init.shape, x_init=x_init, timesteps=4, sampler="ddim", **kwargs)
    _, x_first, _ = next(steps)
    if where == "sent guidance":
        _, x_first, _ = steps.send({"guidance": own})
    _, x_sent, _ = steps.send({"cfg": 9.0})
    start = 0.75 if where != "sent guidance" else 0.5
    resumed = list(gdf.sample(model, cond, x_init.shape, x_init=x_first, t_start=start, timesteps=round(start * 4), sampler="ddim",
                              guidance={**own, "scale": 9.0}))
    torch.testing.assert_close(x_sent, resumed[0][1])


def test_send_refuses_what_is_not_a_dict_and_guidance_with_cfg():
    gdf = GDF.from_spec("stable_cascade")
    for sent, error, match in (("x", TypeError, "takes a dict"), (torch.zeros(3, 2, 4), TypeError, "takes a dict"),
                               ({"guidance": "cfg", "cfg": 7.0}, ValueError, "both 'guidance' and the cfg")):
        steps = gdf.sample(model, {"cond": torch.ones(3, 2, 4)}, (3, 2, 4), timesteps=3, sampler="ddim")
        next(steps)
        with pytest.raises(error, match=match):
            steps.send(sent)
