"""A gdf recipe and sampler → the diffusers scheduler config that reproduces them, where diffusers can express it.

The inverse of ``from_diffusers``: the β table, the target, the grid's
spacing options and the sampler's options go back to the scheduler's own
options. What diffusers cannot express is a ``SpecError`` listing all of it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from gdf_core.errors import ApproximationWarning, SpecError
from gdf_core.interop.from_diffusers import TABLE_OPTIONS, TARGETS

PREDICTION = {v: k for k, v in TARGETS.items()}
SIGMA_FLAGS = {"karras": "use_karras_sigmas", "exponential": "use_exponential_sigmas", "beta": "use_beta_sigmas"}

#: (grid algorithm, gdf sampler) → diffusers scheduler class.
SCHEDULER_OF = {
    ("ddim", "ddim"): "DDIMScheduler",
    ("ddim", "ddpm"): "DDPMScheduler",
    ("ddim", "ipndm"): "PNDMScheduler",
    ("euler", "euler"): "EulerDiscreteScheduler",
    ("euler", "euler_ancestral"): "EulerAncestralDiscreteScheduler",
    ("euler", "heun"): "HeunDiscreteScheduler",
    ("euler", "diffusers_heun"): "HeunDiscreteScheduler",
    ("euler", "lms"): "LMSDiscreteScheduler",
    ("dpm", "dpmpp_2m"): "DPMSolverMultistepScheduler",
    ("dpm", "dpmpp_3m"): "DPMSolverMultistepScheduler",
    ("dpm", "dpmpp_2m_sde"): "DPMSolverMultistepScheduler",
    ("dpm", "dpmpp_3m_sde"): "DPMSolverMultistepScheduler",
    ("dpm", "ddim"): "DPMSolverMultistepScheduler",
    ("dpm", "diffusers_dpmsolver"): "DPMSolverMultistepScheduler",
    ("dpm", "diffusers_unipc"): "UniPCMultistepScheduler",
    ("dpm", "diffusers_deis"): "DEISMultistepScheduler",
    ("dpm", "unipc"): "UniPCMultistepScheduler",
    ("dpm", "deis"): "DEISMultistepScheduler",
}


@dataclass
class Export:
    """The diffusers config of a gdf recipe, and what is only approximately the same."""

    config: dict[str, Any]
    approximations: list[str] = field(default_factory=list)


def _as_dict(spec: Any) -> dict[str, Any]:
    return {"name": spec} if isinstance(spec, str) else dict(spec)


#: diffusers schedulers with x̂0 limits: clip_sample and thresholding, thresholding only, or clip_sample only.
CLIPPING = ("DDIMScheduler", "DDPMScheduler", "LCMScheduler")
THRESHOLDING = (*CLIPPING, "DPMSolverMultistepScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler")
CLIP_ONLY = ("HeunDiscreteScheduler",)


def _unlimited(target: Any) -> Any:
    """The target's base prediction if it limits x̂0 (``thresholded``), else the target itself."""
    return target.prediction if getattr(target, "name", None) == "thresholded" else target


def _limit_options(target: Any, name: str, problems: list[str]) -> dict[str, Any]:
    """diffusers' clip_sample / thresholding options for a ``thresholded`` target (none for another)."""
    if getattr(target, "name", None) != "thresholded":
        return {"clip_sample": False} if name in ("DDIMScheduler", "DDPMScheduler", "HeunDiscreteScheduler") else {}
    noise = "model" if name == "DDIMScheduler" else "consistent"
    if target.noise != noise:
        problems.append(f"target thresholded noise={target.noise!r}: {name} takes ε̂ {noise!r} after limiting x̂0")
    if target.method == "clip":
        if name not in CLIPPING + CLIP_ONLY:
            problems.append(f"target thresholded (clip): {name} has no clip_sample")
        return {"clip_sample": True, "clip_sample_range": target.clip_range}
    if name not in THRESHOLDING:
        problems.append(f"target thresholded (dynamic): {name} has no thresholding")
    options = {"thresholding": True, "dynamic_thresholding_ratio": target.ratio, "sample_max_value": target.max_value}
    return {**options, "clip_sample": False} if name in CLIPPING else options


def export_diffusers(gdf: Any) -> Export:
    """The diffusers scheduler config reproducing ``gdf``'s recipe, sampler and grid (see the module)."""
    spec = gdf.to_spec()
    problems: list[str] = []
    grid = _as_dict(spec.get("sample_schedule") or spec["schedule"])
    sampler = _as_dict(spec.get("sampler") or "ddpm")
    target = _unlimited(gdf.target).name
    noise_cond = _as_dict(spec["noise_cond"])
    scaler = _as_dict(spec["input_scaler"])["name"]
    if spec.get("shift") not in (None, 1, 1.0):
        problems.append(f"shift={spec['shift']!r} (a diffusers scheduler has no resolution shift of its own)")
    if spec.get("offset_noise"):
        problems.append(f"offset_noise={spec['offset_noise']} (diffusers schedulers have no offset noise)")
    if grid["name"] == "diffusers_flow_grid":
        return _export_flow(grid, sampler, target, noise_cond, scaler, problems)
    if grid["name"] == "diffusers_flow_sigmas":
        return _export_flow_sigmas(grid, sampler, target, noise_cond, scaler, problems)
    if grid["name"] == "diffusers_edm_grid":
        return _export_edm(gdf, grid, sampler, noise_cond, scaler, problems)
    if grid["name"] == "diffusers_lcm_grid":
        return _export_lcm(gdf, sampler, noise_cond, scaler, problems)
    if grid["name"] != "diffusers_grid":
        problems.append(
            f"sample_schedule {grid['name']!r}: diffusers builds its grid from a β table and a timestep spacing; "
            "gdf exports only the diffusers_grid, diffusers_flow_grid, diffusers_flow_sigmas, diffusers_edm_grid and "
            "diffusers_lcm_grid schedules"
        )
        _raise(problems)
    if scaler != "vp":
        problems.append(f"input_scaler {scaler!r}: diffusers' β-table schedulers are variance preserving (vp)")
    if target not in PREDICTION:
        problems.append(f"target {target!r}: prediction_type is epsilon, v_prediction or sample")
    if noise_cond["name"] != "diffusers_timestep":
        problems.append(f"noise_cond {noise_cond['name']!r}: diffusers gives the model its timestep (diffusers_timestep)")
    params = getattr(gdf.sample_schedule, "params", {})  # every table option, defaults included
    table = {k: params[k] for k in TABLE_OPTIONS if k in params and (k != "trained_betas" or params[k] is not None)}
    algorithm = grid.get("algorithm", "ddim")
    name = SCHEDULER_OF.get((algorithm, sampler["name"]))
    if name is None:
        problems.append(
            f"sampler {sampler['name']!r} on a {algorithm!r} grid: no diffusers scheduler takes these steps "
            f"(known: {', '.join(f'{s} on {a}' for a, s in SCHEDULER_OF)})"
        )
        _raise(problems)
    assert name is not None
    config: dict[str, Any] = {"_class_name": name, **table}
    if target in PREDICTION:
        config["prediction_type"] = PREDICTION[target]
    config["timestep_spacing"] = grid.get("timestep_spacing", "leading")
    config["steps_offset"] = grid.get("steps_offset", 0)
    final = grid.get("final", "data")
    sigmas = grid.get("sigmas", "table")
    approximations: list[str] = []
    if sampler["name"] == "diffusers_dpmsolver" and sampler.get("final_sigmas_type", "zero") != ("zero" if final == "data" else "sigma_min"):
        problems.append("diffusers_dpmsolver's final_sigmas_type does not match the grid's final level")
    if name in ("DDIMScheduler", "PNDMScheduler"):
        config["set_alpha_to_one"] = final == "data"
    elif name == "DDPMScheduler":
        if final != "data":
            problems.append("final='first_timestep': DDPM always ends on ᾱ = 1")
    elif name == "DEISMultistepScheduler":
        if final != ("last_level" if sigmas != "table" else "first_timestep"):
            problems.append(f"final={final!r}: DEIS ends on {'the last σ again' if sigmas != 'table' else 'σ of ᾱ_0'}")
    elif final == "last_level" and not (name == "UniPCMultistepScheduler" and sigmas != "table"):
        problems.append(f"final='last_level': {name} does not end with a zero-width step")
    elif final != "data" and name not in ("EulerDiscreteScheduler", "DPMSolverMultistepScheduler", "UniPCMultistepScheduler"):
        problems.append(f"final={final!r}: {name} has no final_sigmas_type")
    else:
        config["final_sigmas_type"] = "zero" if final == "data" else "sigma_min"
    config.update(_limit_options(gdf.target, name, problems))
    if sigmas != "table":
        if name in ("DDIMScheduler", "DDPMScheduler", "PNDMScheduler", "EulerAncestralDiscreteScheduler"):
            problems.append(f"sigmas={sigmas!r}: {name} has no {SIGMA_FLAGS[sigmas]}")
        else:
            config[SIGMA_FLAGS[sigmas]] = True
    if grid.get("lambda_min_clipped") is not None and algorithm == "dpm":
        config["lambda_min_clipped"] = grid["lambda_min_clipped"]
    _sampler_options(name, sampler, config, problems, approximations)
    _raise(problems)
    return Export(config=config, approximations=approximations)


def _sampler_options(name: str, sampler: dict[str, Any], config: dict[str, Any], problems: list[str], approx: list[str]) -> None:
    kind = sampler["name"]
    if kind in ("ddim",) and sampler.get("eta", 0.0) != 0.0:
        problems.append(f"ddim eta={sampler['eta']}: diffusers takes eta in step(), not in the config")
    if name == "PNDMScheduler":
        config["skip_prk_steps"] = True
        approx.append("ipndm → PNDMScheduler (PLMS): the nearest diffusers scheduler, not the same steps")
    if kind in ("diffusers_unipc", "diffusers_deis"):
        config.update({k: v for k, v in sampler.items() if k != "name"})
        return
    if kind == "diffusers_dpmsolver":
        config.update({k: v for k, v in sampler.items() if k not in ("name", "final_sigmas_type")})
        return
    if name == "DPMSolverMultistepScheduler":
        order = {"dpmpp_2m": 2, "dpmpp_3m": 3, "dpmpp_2m_sde": 2, "dpmpp_3m_sde": 3, "ddim": 1}[kind]
        config["solver_order"] = order
        config["algorithm_type"] = "sde-dpmsolver++" if kind.endswith("_sde") else "dpmsolver++"
        config["solver_type"] = "heun" if sampler.get("solver_type", "taylor") == "taylor" else "midpoint"
    if name == "UniPCMultistepScheduler":
        config["solver_order"] = sampler.get("order", 3)
        config["solver_type"] = sampler.get("variant", "bh2")
        if sampler.get("corrector", True) is False:
            problems.append("unipc corrector=False: diffusers' disable_corrector lists steps; use [] or all of them")
    if name == "DEISMultistepScheduler":
        config["solver_order"] = sampler.get("order", 3)
        if sampler.get("interpolation", "log_rho") != "log_rho":
            approx.append(f"deis interpolation={sampler['interpolation']!r} → DEISMultistepScheduler, which interpolates ε̂ "
                          "in log ρ: the same order of method, not the same steps")


def _export_flow(grid: dict[str, Any], sampler: dict[str, Any], target: str, noise_cond: dict[str, Any], scaler: str, problems: list[str]) -> Export:
    if sampler["name"] != "euler":
        problems.append(f"sampler {sampler['name']!r}: FlowMatchEulerDiscreteScheduler takes Euler steps")
    if scaler != "lerp" or target != "rectified_flows":
        problems.append(f"input_scaler {scaler!r} / target {target!r}: flow matching is lerp / rectified_flows")
    if noise_cond["name"] != "flow_timestep":
        problems.append(f"noise_cond {noise_cond['name']!r}: flow matching gives the model σ·T (flow_timestep)")
    config = {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "num_train_timesteps": grid.get("num_train_timesteps", 1000),
        "shift": grid.get("flow_shift", 1.0),
        "use_dynamic_shifting": grid.get("use_dynamic_shifting", False),
        "time_shift_type": grid.get("time_shift_type", "exponential"),
    }
    if grid.get("shift_terminal") is not None:
        config["shift_terminal"] = grid["shift_terminal"]
    if grid.get("sigmas", "linear") != "linear":
        config[SIGMA_FLAGS[grid["sigmas"]]] = True
    _raise(problems)
    approx = []
    if config["use_dynamic_shifting"]:
        approx.append(f"mu={grid.get('mu')} is a per-run argument in diffusers: pass set_timesteps(N, mu={grid.get('mu')})")
        approx.append(
            "base_shift, max_shift, base_image_seq_len and max_image_seq_len are diffusers' defaults (Flux's): gdf keeps mu, "
            "not the pipeline's rule for it; a pipeline that computes mu from them (LTX-Video, CogView4) needs its own set here"
        )
    return Export(config=config, approximations=approx)


def _export_flow_sigmas(grid: dict[str, Any], sampler: dict[str, Any], target: str, noise_cond: dict[str, Any], scaler: str, problems: list[str]) -> Export:
    """A multistep scheduler with ``use_flow_sigmas=True`` (the ``diffusers_flow_sigmas`` grid)."""
    from gdf_core.interop.from_diffusers import FLOW_SIGMA_TARGETS, table_sigma_min

    family = grid.get("algorithm", "dpm")
    name = SCHEDULER_OF.get(("dpm", sampler["name"]))
    if name is None or (family == "unipc") != (name == "UniPCMultistepScheduler"):
        problems.append(f"sampler {sampler['name']!r} on the {family!r} flow-σ grid: no diffusers scheduler takes these steps")
        _raise(problems)
    assert name is not None
    predictions = {v: k for k, v in FLOW_SIGMA_TARGETS.items()}
    if scaler != "lerp" or target not in predictions:
        problems.append(f"input_scaler {scaler!r} / target {target!r}: flow σ is lerp with rectified_flows, epsilon or x0")
    if noise_cond["name"] != "flow_timestep" or noise_cond.get("rounding") != "floor":
        problems.append("noise_cond: the multistep schedulers give the model ⌊σ·T⌋ (flow_timestep, rounding floor)")
    config: dict[str, Any] = {
        "_class_name": name,
        "num_train_timesteps": grid.get("num_train_timesteps", 1000),
        "use_flow_sigmas": True,
        "flow_shift": grid.get("flow_shift", 1.0),
        "prediction_type": predictions.get(target, "flow_prediction"),
    }
    final = grid.get("final", "data")
    if name == "DEISMultistepScheduler":
        if final != "last_level":
            problems.append(f"final={final!r}: DEIS ends a run on the last σ again (final='last_level')")
    elif final == ("last_level" if name == "UniPCMultistepScheduler" else "sigma"):
        default = table_sigma_min({})  # the σ of ᾱ_0 of diffusers' default β table (linear, 0.0001 … 0.02)
        if final == "sigma" and abs(grid["final_sigma"] - default) > 1e-9:
            problems.append(f"final_sigma={grid['final_sigma']}: DPM-Solver's sigma_min end on flow σ is the β table's σ of ᾱ_0, "
                            f"{default:.9g} for the default table that gdf exports")
        config["final_sigmas_type"] = "sigma_min"
    elif final != "data":
        problems.append(f"final={final!r}: {name} ends on flow σ at 0 or at its sigma_min")
    if grid.get("use_dynamic_shifting"):
        config["use_dynamic_shifting"] = True
    if grid.get("shift_terminal") is not None:
        config["shift_terminal"] = grid["shift_terminal"]
    approx: list[str] = []
    _sampler_options(name, sampler, config, problems, approx)
    _raise(problems)
    if config.get("use_dynamic_shifting"):
        approx.append(f"mu={grid.get('mu')} is a per-run argument in diffusers: pass set_timesteps(N, mu={grid.get('mu')})")
    return Export(config=config, approximations=approx)


def _export_edm(gdf: Any, grid: dict[str, Any], sampler: dict[str, Any], noise_cond: dict[str, Any], scaler: str, problems: list[str]) -> Export:
    target = gdf.target
    prediction = {"edm": "epsilon", "edm_v": "v_prediction"}.get(target.name)
    if sampler["name"] != "euler":
        problems.append(f"sampler {sampler['name']!r}: EDMEulerScheduler takes Euler steps")
    if prediction is None:
        problems.append(f"target {target.name!r}: EDMEulerScheduler predicts EDM's F (edm) or −F (edm_v)")
    if scaler != "edm":
        problems.append(f"input_scaler {scaler!r}: EDMEulerScheduler scales the model input by c_in (edm)")
    if noise_cond["name"] != "edm":
        problems.append(f"noise_cond {noise_cond['name']!r}: EDMEulerScheduler gives the model ¼·log σ (edm)")
    sigma_data = getattr(target, "sigma_data", None)
    if scaler == "edm" and getattr(gdf.input_scaler, "sigma_data", None) != sigma_data:
        problems.append("the edm scaler's and target's sigma_data differ: EDMEulerScheduler has one sigma_data")
    _raise(problems)
    schedule = gdf.sample_schedule
    config = {
        "_class_name": "EDMEulerScheduler",
        "sigma_min": schedule.sigma_min,
        "sigma_max": schedule.sigma_max,
        "sigma_data": sigma_data,
        "sigma_schedule": schedule.sigma_schedule,
        "prediction_type": prediction,
        "rho": schedule.rho,
        "final_sigmas_type": "zero" if schedule.final == "data" else "sigma_min",
    }
    return Export(config=config)


def _export_lcm(gdf: Any, sampler: dict[str, Any], noise_cond: dict[str, Any], scaler: str, problems: list[str]) -> Export:
    target = gdf.target
    schedule = gdf.sample_schedule
    table = {k: getattr(schedule, k) for k in TABLE_OPTIONS if k != "trained_betas" or schedule.trained_betas is not None}
    if sampler["name"] != "lcm":
        problems.append(f"sampler {sampler['name']!r}: LCMScheduler takes multistep consistency steps (lcm)")
    if scaler != "vp":
        problems.append(f"input_scaler {scaler!r}: LCMScheduler is variance preserving (vp)")
    if noise_cond["name"] != "diffusers_timestep":
        problems.append(f"noise_cond {noise_cond['name']!r}: LCMScheduler gives the model its timestep (diffusers_timestep)")
    prediction = None
    if target.name != "consistency":
        problems.append(f"target {target.name!r}: LCMScheduler applies the consistency boundary condition (consistency)")
    else:
        prediction = PREDICTION.get(_unlimited(target.prediction).name)
        if prediction is None:
            problems.append(f"target consistency of {target.prediction.name!r}: prediction_type is epsilon, v_prediction or sample")
        if target.sigma_data != 0.5:
            problems.append(f"target consistency sigma_data={target.sigma_data}: LCMScheduler's σ_data is 0.5")
        if target.time.name != "diffusers_timestep" or getattr(target.time, "rounding", None) != "round":
            problems.append("the consistency target's time: LCMScheduler's is the integer timestep (diffusers_timestep, rounding round)")
    _raise(problems)
    config: dict[str, Any] = {
        "_class_name": "LCMScheduler",
        **table,
        "original_inference_steps": schedule.original_inference_steps,
        "prediction_type": prediction,
        "timestep_scaling": target.timestep_scaling,
    }
    if target.name == "consistency":
        config.update(_limit_options(target.prediction, "LCMScheduler", problems))
        _raise(problems)
    return Export(config=config)


def _raise(problems: list[str]) -> None:
    if problems:
        raise SpecError("diffusers cannot express this gdf recipe: " + "; ".join(problems), path="to_diffusers")


def to_diffusers(gdf: Any, *, config: bool = False) -> Any:
    """The diffusers scheduler reproducing ``gdf`` (its config as a dict with ``config=True`` or without diffusers).

    What the scheduler only approximates (e.g. ``ipndm`` as PLMS) is said in an ``ApproximationWarning``.
    """
    export = export_diffusers(gdf)
    exported = export.config
    if export.approximations:
        warnings.warn(f"{exported['_class_name']}: " + "; ".join(export.approximations), ApproximationWarning, stacklevel=3)
    if config:
        return exported
    try:
        import diffusers
    except ImportError:
        return exported
    cls = getattr(diffusers, exported["_class_name"])
    return cls.from_config({k: v for k, v in exported.items() if k != "_class_name"})


__all__ = ["Export", "export_diffusers", "to_diffusers"]
