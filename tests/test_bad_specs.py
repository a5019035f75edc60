"""A hostile user's specs: each is refused with one SpecError whose message has the words a user needs.

Categories: names, types, declared domains, nested errors, the whole GDF spec,
files, attacks. Every case is a distinct bad spec; the test asserts the
SpecError and the words its message must contain (path, value, allowed domain,
did-you-mean where it fits).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, NamedTuple, Union

import pytest

from gdf_core import GDF, SpecError

NAN, INF = math.nan, math.inf
Source = Union[Any, Callable[[Path], Any]]


class Bad(NamedTuple):
    category: str
    id: str
    spec: Source
    words: tuple[str, ...]


def on(**parts: Any) -> dict[str, Any]:
    """The seed recipe (stable_cascade) with ``parts`` replaced."""
    return {"preset": "stable_cascade", **parts}


def param(kind: str, name: str, pname: str, value: Any, *words: str, key: str | None = None, **other: Any) -> Bad:
    """A component parameter outside its domain: the path and the value are always in the message."""
    shown = "nan" if isinstance(value, float) and math.isnan(value) else repr(value)
    spec = on(**{key or kind: {"name": name, pname: value, **other}})
    return Bad("domain", f"{key or kind}.{name}.{pname}={shown}", spec, (f"{key or kind}.{name}.{pname}", f"got {shown}", *words))


FINITE_GE0 = "allowed: a finite number ≥ 0"
FINITE_GT0 = "allowed: a finite number > 0"
FINITE = "allowed: a finite number"
PAIR = "low < high"

CASES: list[Bad] = [
    # -- names ------------------------------------------------------------------------------
    Bad("name", "schedule cosin", on(schedule="cosin"), ("schedule: unknown schedule 'cosin'", "did you mean 'cosine'?", "Available schedules:")),
    Bad("name", "input_scaler vq", on(input_scaler="vq"), ("input_scaler: unknown input_scaler 'vq'", "did you mean 'vp'?")),
    Bad("name", "target eps", on(target="eps"), ("unknown target 'eps'", "did you mean 'epsilon'?", "Available targets:", " epsilon, ")),
    Bad("name", "noise_cond cosine", on(noise_cond="cosine"), ("unknown noise_cond 'cosine'", "did you mean 'cosine_t'?")),
    Bad("name", "loss_weight p3", on(loss_weight="p3"), ("unknown loss_weight 'p3'", "did you mean 'p2'?")),
    Bad("name", "sampler ddin", on(sampler="ddin"), ("sampler: unknown sampler 'ddin'", "did you mean 'ddim'?")),
    Bad("name", "sample_schedule karas", on(sample_schedule="karas"), ("sample_schedule: unknown schedule 'karas'", "did you mean 'karras'?")),
    Bad("name", "name in a dict", on(schedule={"name": "cosinus"}), ("unknown schedule 'cosinus'", "did you mean 'cosine'?")),
    Bad("name", "preset edn", "edn", ("preset: unknown preset 'edn'", "did you mean 'edm'?", "Available presets:")),
    Bad("name", "preset in a dict", {"preset": "stable_cascad"}, ("unknown preset 'stable_cascad'", "did you mean 'stable_cascade'?")),
    Bad("name", "qualified unknown distribution", on(schedule="nosuchdist:cosine"), ("no distribution 'nosuchdist' registers the schedule 'cosine'",)),
    Bad("name", "qualified unknown name", on(schedule="gdf:cosinee"), ("unknown schedule 'cosinee' from distribution 'gdf'",)),
    Bad("name", "qualified preset unknown distribution", "nosuchdist:edm", ("no distribution 'nosuchdist' registers the preset 'edm'",)),
    Bad("name", "a sampler's name as a schedule", on(schedule="ddim"), ("unknown schedule 'ddim'",)),
    Bad("name", "a schedule's name as a loss weight", on(loss_weight="cosine"), ("unknown loss_weight 'cosine'",)),
    Bad("name", "top-level key schedul", on(schedul="cosine"), ("schedul: unknown key 'schedul'", "did you mean 'schedule'?", "A GDF spec has: preset, schedule")),
    Bad("name", "top-level key loss_weights", on(loss_weights="p2"), ("unknown key 'loss_weights'", "did you mean 'loss_weight'?")),
    Bad("name", "top-level key guidances", on(guidances="cfg"), ("unknown key 'guidances'", "did you mean 'guidance'?")),
    Bad("name", "parameter gama", on(loss_weight={"name": "p2", "gama": 1.0}), ("loss_weight.p2.gama: unexpected parameter 'gama'", "did you mean 'gamma'?", "p2 takes: k, gamma, s")),
    Bad("name", "parameter clamp", on(schedule={"name": "cosine", "clamp": [0.1, 0.9]}), ("unexpected parameter 'clamp'", "did you mean 'clamp_range'?")),
    Bad("name", "parameter of no component", on(target={"name": "epsilon", "scale": 2}), ("target.epsilon.scale: unexpected parameter 'scale'", "epsilon takes: no parameters")),
    Bad("name", "limits argument", on(limits={"strech_max": True}), ("unknown setup_limits argument 'strech_max'", "did you mean 'stretch_max'?", "setup_limits takes: stretch_max, stretch_min, shift")),
    Bad("name", "unknown kind for build", lambda _: ("build", "schedules", "cosine"), ("unknown component kind 'schedules'", "did you mean 'schedule'?")),
    # -- types ----------------------------------------------------------------------------------
    Bad("type", "schedule int", on(schedule=5), ("schedule: expected a schedule: a name or a {'name': ..., **params} dict", "got int 5")),
    Bad("type", "schedule list", on(schedule=["cosine"]), ("expected a schedule", "got list ['cosine']")),
    Bad("type", "schedule true", on(schedule=True), ("expected a schedule", "got bool True")),
    Bad("type", "loss weight float", on(loss_weight=1.0), ("loss_weight: expected a loss_weight", "got float 1.0")),
    Bad("type", "sampler int", on(sampler=3), ("sampler: expected a sampler", "got int 3")),
    Bad("type", "spec without name", on(schedule={"s": 0.1}), ("schedule: a schedule spec needs a 'name'", "got {'s': 0.1}")),
    Bad("type", "name not a string", on(schedule={"name": 3}), ("a schedule spec needs a 'name'", "got {'name': 3}")),
    Bad("type", "name null", on(noise_cond={"name": None}), ("a noise_cond spec needs a 'name'",)),
    Bad("type", "float as a string", on(loss_weight={"name": "p2", "k": "large"}), ("loss_weight.p2.k: Input should be a valid number", "got 'large'", FINITE_GE0)),
    Bad("type", "gamma true", on(loss_weight={"name": "p2", "gamma": True}), ("loss_weight.p2.gamma: a number is needed, not a boolean", "got True", FINITE)),
    Bad("type", "s false", on(schedule={"name": "cosine", "s": False}), ("schedule.cosine.s: a number is needed, not a boolean",)),
    Bad("type", "float as a list", on(loss_weight={"name": "constant", "v": [1.0]}), ("loss_weight.constant.v: Input should be a valid number", "got [1.0]")),
    Bad("type", "float as a dict", on(loss_weight={"name": "min_snr", "max_snr": {"a": 1}}), ("loss_weight.min_snr.max_snr: Input should be a valid number",)),
    Bad("type", "int as a float", on(schedule={"name": "adaptive", "buckets": 2.5}), ("schedule.adaptive.buckets: Input should be a valid integer", "got 2.5", "allowed: an integer in [1, 100000]")),
    Bad("type", "int as a string", on(noise_cond={"name": "discrete", "noise_cond": "cosine_t", "steps": "many"}), ("noise_cond.discrete.steps: Input should be a valid integer", "got 'many'")),
    Bad("type", "int as true", on(schedule={"name": "cosine", "discrete_steps": True}), ("schedule.cosine.discrete_steps: a number is needed, not a boolean",)),
    Bad("type", "bool as a string", on(schedule={"name": "cosine", "norm_instead": "sometimes"}), ("schedule.cosine.norm_instead: Input should be a valid boolean", "got 'sometimes'", "allowed: true or false")),
    Bad("type", "pair as a number", on(schedule={"name": "linear", "logsnr_range": 10}), ("schedule.linear.logsnr_range: Input should be a valid tuple", "got 10")),
    Bad("type", "pair as a string", on(schedule={"name": "cosine2", "logsnr_range": "-10,10"}), ("schedule.cosine2.logsnr_range: Input should be a valid tuple",)),
    Bad("type", "pair of strings", on(schedule={"name": "rectified_flows", "logsnr_range": ["a", "b"]}), ("schedule.rectified_flows.logsnr_range: Input should be a valid number", "(element 0); got ['a', 'b']")),
    Bad("type", "knots as a number", on(schedule={"name": "piecewise_linear", "x": 1, "y": [0.5]}), ("schedule.piecewise_linear.x: Input should be a valid list",)),
    Bad("type", "nested spec as a number", on(schedule={"name": "interpolated", "scheduler1": 1, "scheduler2": "cosine"}), ("schedule.interpolated.scheduler1: expected a schedule", "got int 1")),
    Bad("type", "offset_noise string", on(offset_noise="some"), ("offset_noise: Input should be a valid number", "got 'some'", "allowed: a finite number ≥ 0")),
    Bad("type", "offset_noise true", on(offset_noise=True), ("offset_noise: a number is needed, not a boolean",)),
    Bad("type", "limits a list", on(limits=[1]), ("limits: Input should be a valid dictionary",)),
    Bad("type", "limits shift string", on(limits={"shift": "big"}), ("limits.shift: Input should be a valid number", "got 'big'", FINITE_GT0)),
    Bad("type", "limits stretch not a bool", on(limits={"stretch_max": "yes please"}), ("limits.stretch_max: Input should be a valid boolean",)),
    Bad("type", "preset not a string", {"preset": 5}, ("preset: a preset is given by name; got 5",)),
    Bad("type", "preset a dict", {"preset": {"name": "edm"}}, ("preset: a preset is given by name",)),
    Bad("type", "spec a list", lambda _: [1, 2], ("a GDF spec is a dict, a preset name, a file path or JSON/YAML/TOML text; got list",)),
    Bad("type", "spec an int", lambda _: 42, ("a GDF spec is a dict, a preset name", "got int")),
    Bad("type", "spec None", lambda _: None, ("got NoneType",)),
    Bad("type", "text that is a list", "[1, 2, 3]", ("a GDF spec must be a mapping of component kinds to specs; got list [1, 2, 3]",)),
    Bad("type", "yaml text that is a string", "just some words", ("a GDF spec must be a mapping", "got str 'just some words'")),
    Bad("type", "a training-only sample_schedule", on(sample_schedule="edm_train"), ("sample_schedule: the schedule 'edm_train' only draws λ for training",)),
    Bad("type", "a training-only adaptive sample_schedule", on(sample_schedule="adaptive"), ("sample_schedule: the schedule 'adaptive' only draws λ for training",)),
    # -- declared domains: schedules ------------------------------------------------------------
    param("schedule", "cosine", "s", NAN, FINITE_GE0),
    param("schedule", "cosine", "s", -0.1, "greater than or equal to 0", FINITE_GE0),
    param("schedule", "cosine", "s", INF, "finite"),
    param("schedule", "cosine", "clamp_range", [0.9, 0.1], PAIR, "in [0, 1]"),
    param("schedule", "cosine", "clamp_range", [-0.1, 0.9], "greater than or equal to 0"),
    param("schedule", "cosine", "clamp_range", [0.1, 1.5], "less than or equal to 1"),
    param("schedule", "cosine", "clamp_range", [0.1], "Field required"),
    param("schedule", "cosine", "clamp_range", [0.1, 0.2, 0.3], "at most 2 items"),
    param("schedule", "cosine", "clamp_range", [NAN, 0.5], "finite"),
    param("schedule", "cosine", "shift", 0, "greater than 0", FINITE_GT0),
    param("schedule", "cosine", "shift", NAN, FINITE_GT0),
    param("schedule", "cosine", "shift", INF, FINITE_GT0),
    param("schedule", "cosine", "shift", -1.0, FINITE_GT0),
    param("schedule", "cosine", "discrete_steps", 1, "greater than or equal to 2", "an integer ≥ 2, or null"),
    param("schedule", "cosine", "discrete_steps", -5, "greater than or equal to 2"),
    param("schedule", "cosine", "discrete_steps", 0, "greater than or equal to 2"),
    param("schedule", "cosine2", "logsnr_range", [5, 5], PAIR),
    param("schedule", "cosine2", "logsnr_range", [10, -10], PAIR),
    param("schedule", "cosine2", "logsnr_range", [-INF, 10], "finite"),
    param("schedule", "linear", "logsnr_range", [-INF, INF], "finite", "allowed: a pair (low, high) of finite numbers, low < high"),
    param("schedule", "linear", "logsnr_range", [NAN, 1.0], "finite"),
    param("schedule", "linear", "logsnr_range", [3, -3], PAIR),
    param("schedule", "rectified_flows", "logsnr_range", [15, -15], PAIR),
    param("schedule", "rectified_flows", "logsnr_range", [-15, INF], "finite"),
    param("schedule", "sqrt", "s", -1e-3, FINITE_GE0),
    param("schedule", "sqrt", "clamp_range", [0.5, 0.5], PAIR),
    param("schedule", "edm_sample", "sigma_range", [80, 0.002], PAIR),
    param("schedule", "edm_sample", "sigma_range", [0, 80], "greater than 0"),
    param("schedule", "edm_sample", "p", 0, FINITE_GT0),
    param("schedule", "edm_sample", "p", NAN, FINITE_GT0),
    param("schedule", "edm_train", "std", -1, FINITE_GE0),
    param("schedule", "edm_train", "mu", NAN, FINITE),
    param("schedule", "edm_train", "mu", INF, FINITE),
    param("schedule", "stable_diffusion", "linear_range", [0.012, 0.00085], PAIR),
    param("schedule", "stable_diffusion", "linear_range", [0.0, 0.012], "greater than 0"),
    param("schedule", "stable_diffusion", "linear_range", [0.1, 1.5], "less than 1"),
    param("schedule", "stable_diffusion", "total_steps", 0, "an integer in [1, 100000]"),
    param("schedule", "stable_diffusion", "total_steps", 10**9, "less than or equal to 100000"),
    param("schedule", "piecewise_linear", "x", [0.0, 0.0, 1.0], "increasing", y=[0.9, 0.5, 0.1]),
    param("schedule", "piecewise_linear", "x", [0.0], "at least 2 items", y=[0.5]),
    param("schedule", "piecewise_linear", "x", [0.0, 2.0], "less than or equal to 1", y=[0.9, 0.1]),
    param("schedule", "piecewise_linear", "y", [1.0, 0.1], "less than 1", x=[0.0, 1.0]),
    param("schedule", "piecewise_linear", "y", [0.9, NAN], "finite", x=[0.0, 1.0]),
    param("schedule", "adaptive", "buckets", 0, "an integer in [1, 100000]"),
    param("schedule", "adaptive", "buckets", 10**12, "less than or equal to 100000"),
    param("schedule", "interpolated", "shifts", [1.0, 0.0], "greater than 0", scheduler1="cosine", scheduler2="linear"),
    param("schedule", "interpolated", "shifts", [1.0], "Field required", scheduler1="cosine", scheduler2="linear"),
    param("schedule", "karras", "sigma_max", 0, FINITE_GT0, key="sample_schedule"),
    param("schedule", "karras", "sigma_min", -1.0, FINITE_GE0, key="sample_schedule"),
    param("schedule", "karras", "rho", NAN, FINITE_GT0, key="sample_schedule"),
    Bad("domain", "karras sigma_min > sigma_max", on(sample_schedule={"name": "karras", "sigma_min": 90, "sigma_max": 80}), ("sample_schedule.karras", "sigma_min must be less than sigma_max", "sigma_min=90")),
    Bad("domain", "exponential sigma_min = sigma_max", on(sample_schedule={"name": "exponential", "sigma_min": 1, "sigma_max": 1}), ("sigma_min must be less than sigma_max",)),
    param("schedule", "exponential", "sigma_min", 0, FINITE_GT0, key="sample_schedule"),
    Bad("domain", "linear_logsnr reversed", on(sample_schedule={"name": "linear_logsnr", "logsnr_min": 5, "logsnr_max": -5}), ("logsnr_min must be less than logsnr_max",)),
    param("schedule", "linear_logsnr", "logsnr_max", INF, FINITE, key="sample_schedule"),
    param("schedule", "flow_shift", "shift", 0, FINITE_GT0, key="sample_schedule"),
    param("schedule", "flow_shift", "shift", NAN, FINITE_GT0, key="sample_schedule"),
    param("schedule", "flow_shift", "shift", INF, FINITE_GT0, key="sample_schedule"),
    param("schedule", "flow_shift", "t_max", 0, "a number in (0, 1]", key="sample_schedule"),
    param("schedule", "flow_shift", "t_max", 1.5, "a number in (0, 1]", key="sample_schedule"),
    param("schedule", "zero_terminal_snr", "beta_end", 1.5, "a finite number in (0, 1)", key="sample_schedule"),
    param("schedule", "zero_terminal_snr", "beta_start", 0, "a finite number in (0, 1)", key="sample_schedule"),
    param("schedule", "zero_terminal_snr", "num_train_timesteps", 1, "an integer in [2, 100000]", key="sample_schedule"),
    Bad("domain", "zero_terminal_snr beta_start > beta_end", on(sample_schedule={"name": "zero_terminal_snr", "beta_start": 0.02, "beta_end": 0.01}), ("beta_start must be less than beta_end",)),
    param("schedule", "beta", "alpha", 0.1, "a number in [0.5, 1000000]", key="sample_schedule"),
    param("schedule", "beta", "beta", NAN, "a number in [0.5, 1000000]", key="sample_schedule"),
    param("schedule", "beta", "num_train_timesteps", 1, "greater than or equal to 2", key="sample_schedule"),
    param("schedule", "beta", "beta_end", 1.5, "less than 1", key="sample_schedule"),
    # -- declared domains: scalers, noise conditions, loss weights --------------------------------------
    param("input_scaler", "vp", "limits", [NAN] * 4, "finite"),
    param("input_scaler", "vp", "limits", [0.1, 0.0, 0.0, 1.0], "min_a < max_a and min_b < max_b"),
    param("input_scaler", "lerp", "limits", [0.0, 1.0, 0.0], "Field required"),
    param("input_scaler", "lerp", "limits", [0.0, 1.0, INF, 1.0], "finite"),
    param("noise_cond", "cosine_t", "s", -1, FINITE_GE0),
    param("noise_cond", "cosine_t", "clamp_range", [1.0, 0.0], PAIR),
    param("noise_cond", "cosine_t", "shift", 0, FINITE_GT0),
    param("noise_cond", "edm", "shift", NAN, FINITE_GT0),
    param("noise_cond", "logsnr", "clamp_range", [5, -5], PAIR),
    param("noise_cond", "edm_sigma", "sigma_data", 0, FINITE_GT0),
    param("noise_cond", "edm_sigma", "sigma_data", -1, FINITE_GT0),
    param("noise_cond", "discrete", "steps", 0, "an integer ≥ 1", noise_cond="cosine_t"),
    param("noise_cond", "discrete", "continuous_range", [1, 0], PAIR, noise_cond="cosine_t"),
    param("noise_cond", "stable_diffusion", "total_steps", 10**7, "less than or equal to 100000"),
    param("noise_cond", "piecewise_linear", "x", [0.5, 0.2], "increasing", y=[0.9, 0.1]),
    param("loss_weight", "p2", "gamma", NAN, FINITE),
    param("loss_weight", "p2", "gamma", INF, FINITE),
    param("loss_weight", "p2", "k", -1, FINITE_GE0),
    param("loss_weight", "p2", "s", NAN, FINITE),
    param("loss_weight", "constant", "v", -1, FINITE_GE0),
    param("loss_weight", "constant", "v", NAN, FINITE_GE0),
    param("loss_weight", "constant", "v", INF, FINITE_GE0),
    param("loss_weight", "min_snr", "max_snr", -5, FINITE_GT0),
    param("loss_weight", "min_snr", "max_snr", 0, FINITE_GT0),
    param("loss_weight", "min_snr_plus_one", "max_snr", NAN, FINITE_GT0),
    param("loss_weight", "truncated_snr", "min_snr", -1, FINITE_GE0),
    param("loss_weight", "sech", "div", 0, "must not be 0", "allowed: a finite number ≠ 0"),
    param("loss_weight", "sech", "div", NAN, "finite"),
    param("loss_weight", "sigmoid", "s", INF, FINITE),
    param("loss_weight", "snr", "clamp_range", [2, 1], PAIR),
    param("loss_weight", "debiased", "clamp_range", [-1, 1], "greater than or equal to 0"),
    param("loss_weight", "adaptive", "buckets", 1, "an integer in [2, 100000]"),
    param("loss_weight", "adaptive", "buckets", 10**12, "less than or equal to 100000"),
    # -- the whole GDF spec ------------------------------------------------------------------------------
    Bad("gdf", "offset_noise nan", on(offset_noise=NAN), ("offset_noise: Input should be", "got nan", "allowed: a finite number ≥ 0")),
    Bad("gdf", "offset_noise -1", on(offset_noise=-1), ("offset_noise: Input should be greater than or equal to 0", "got -1")),
    Bad("gdf", "offset_noise inf", on(offset_noise=INF), ("offset_noise", "got inf")),
    Bad("gdf", "limits shift 0", on(limits={"shift": 0}), ("limits.shift: Input should be greater than 0", "got 0", FINITE_GT0)),
    Bad("gdf", "limits shift nan", on(limits={"shift": NAN}), ("limits.shift", "got nan")),
    Bad("gdf", "limits shift -2", on(limits={"shift": -2}), ("limits.shift", "got -2")),
    Bad("gdf", "missing parts", {"schedule": "cosine"}, ("4 problems in the spec", "input_scaler: missing 'input_scaler'", "loss_weight: missing 'loss_weight'")),
    Bad("gdf", "empty spec", {}, ("5 problems in the spec", "schedule: missing 'schedule'")),
    Bad("gdf", "every error at once", on(schedule="cosin", target="eps", offset_noise=-1, limits={"shift": 0}),
        ("4 problems in the spec", "offset_noise: Input should be greater than or equal to 0", "limits.shift", "did you mean 'cosine'?", "did you mean 'epsilon'?")),
    Bad("gdf", "two bad parameters of one component", on(schedule={"name": "cosine", "s": NAN, "shift": 0}), ("2 problems in the spec", "schedule.cosine.s", "schedule.cosine.shift")),
    Bad("gdf", "an unknown and a bad parameter", on(loss_weight={"name": "p2", "gama": 1, "k": -1}), ("2 problems", "unexpected parameter 'gama'", "loss_weight.p2.k")),
    Bad("gdf", "bad parts of three kinds", on(schedule={"name": "cosine", "s": -1}, noise_cond={"name": "cosine_t", "s": -1}, loss_weight={"name": "p2", "k": -1}),
        ("3 problems", "schedule.cosine.s", "noise_cond.cosine_t.s", "loss_weight.p2.k")),
    Bad("gdf", "bad sampler and sample schedule", on(sampler="nope", sample_schedule={"name": "karras", "rho": 0}), ("2 problems", "sampler: unknown sampler 'nope'", "sample_schedule.karras.rho")),
    # -- nested errors ----------------------------------------------------------------------------------------
    Bad("nested", "interpolated inner parameter", on(schedule={"name": "interpolated", "scheduler1": {"name": "cosine", "s": -1}, "scheduler2": "linear"}),
        ("schedule.interpolated.scheduler1.cosine.s", "got -1", FINITE_GE0)),
    Bad("nested", "interpolated inner name", on(schedule={"name": "interpolated", "scheduler1": "cosine", "scheduler2": "lineer"}),
        ("schedule.interpolated.scheduler2: unknown schedule 'lineer'", "did you mean 'linear'?")),
    Bad("nested", "interpolated both inner", on(schedule={"name": "interpolated", "scheduler1": {"name": "cosine", "s": -1}, "scheduler2": "foo"}),
        ("2 problems", "scheduler1.cosine.s", "scheduler2: unknown schedule 'foo'")),
    Bad("nested", "interpolated inner missing", on(schedule={"name": "interpolated", "scheduler1": "cosine"}), ("schedule.interpolated.scheduler2: missing required parameter 'scheduler2'",)),
    Bad("nested", "composed list item", on(loss_weight={"name": "composed", "mul": ["p2", {"name": "snr", "clamp_range": [2, 1]}], "div": "snr"}),
        ("loss_weight.composed.mul[1].snr.clamp_range", PAIR)),
    Bad("nested", "composed unknown in list", on(loss_weight={"name": "composed", "mul": ["p2", "p3"], "div": "snr"}), ("loss_weight.composed.mul[1]: unknown loss_weight 'p3'", "did you mean 'p2'?")),
    Bad("nested", "composed two bad", on(loss_weight={"name": "composed", "mul": [{"name": "p2", "k": NAN}], "div": "x"}), ("2 problems", "mul[0].p2.k", "div: unknown loss_weight 'x'")),
    Bad("nested", "composed wrong kind", on(loss_weight={"name": "composed", "mul": ["cosine"], "div": "snr"}), ("loss_weight.composed.mul[0]: unknown loss_weight 'cosine'",)),
    Bad("nested", "discrete inner", on(noise_cond={"name": "discrete", "noise_cond": {"name": "cosine_t", "s": NAN}}), ("noise_cond.discrete.noise_cond.cosine_t.s", "got nan")),
    Bad("nested", "discrete inner name", on(noise_cond={"name": "discrete", "noise_cond": "cosine_tt"}), ("noise_cond.discrete.noise_cond: unknown noise_cond 'cosine_tt'",)),
    Bad("nested", "preset override with a bad value", {"preset": "edm", "schedule": {"name": "edm_train", "std": -1}}, ("schedule.edm_train.std", "got -1")),
    # -- files ----------------------------------------------------------------------------------------------------
    Bad("file", "missing json", lambda d: str(d / "nope.json"), ("no such spec file", "nope.json")),
    Bad("file", "missing yaml", lambda d: str(d / "nope.yaml"), ("no such spec file",)),
    Bad("file", "missing yml", lambda d: str(d / "nope.yml"), ("no such spec file",)),
    Bad("file", "missing toml", lambda d: str(d / "nope.toml"), ("no such spec file",)),
    Bad("file", "missing Path", lambda d: d / "nope", ("no such spec file",)),
    Bad("file", "a directory", lambda d: d, ("is a directory, not a spec file",)),
    Bad("file", "a directory named .json", lambda d: _mkdir(d / "dir.json"), ("is a directory, not a spec file",)),
    Bad("file", "binary", lambda d: _write(d / "spec.json", b"\x00\x01\x02gdf"), ("is binary, not JSON, YAML or TOML text",)),
    Bad("file", "not utf-8", lambda d: _write(d / "spec.yaml", b"schedule: \xff\xfe cosine"), ("is not UTF-8 text", "position 10")),
    Bad("file", "broken json", lambda d: _write(d / "spec.json", b'{"schedule": "cosine",\n "target": }'), ("invalid JSON in the spec file", "line 2, column 12", "Expecting value")),
    Bad("file", "broken yaml", lambda d: _write(d / "spec.yaml", b"schedule: cosine\ntarget: [epsilon\n"), ("invalid YAML in the spec file", "line 3, column 1")),
    Bad("file", "broken toml", lambda d: _write(d / "spec.toml", b'schedule = "cosine"\ntarget = = 1\n'), ("invalid TOML in the spec file", "line 2, column")),
    Bad("file", "json that is a list", lambda d: _write(d / "spec.json", b"[1, 2]"), ("must hold a mapping of component kinds to specs; it holds a list",)),
    Bad("file", "empty yaml", lambda d: _write(d / "spec.yaml", b""), ("must hold a mapping of component kinds to specs; it holds nothing",)),
    Bad("file", "yaml with a python tag", lambda d: _write(d / "spec.yaml", b"schedule: !!python/object/apply:os.system ['echo pwned']\n"), ("invalid YAML", "line 1")),
    Bad("file", "too large", lambda d: _write(d / "spec.json", b" " * (1 << 20) + b"{}"), ("is 1048578 bytes; a spec file is at most 1048576 bytes",)),
    Bad("file", "bad value in a file", lambda d: _write(d / "spec.json", json.dumps(on(offset_noise=-1)).encode()), ("offset_noise", "got -1")),
    Bad("file", "a path without a spec suffix is not read", lambda d: str(_write(d / "passwd", b"root:x:0:0:root:/root:/bin/bash\n")),
        ("is not a preset name or spec text", "ends in .json, .yaml, .yml, .toml", "pathlib.Path")),
    Bad("file", "/etc/passwd as a string", "/etc/passwd", ("'/etc/passwd' is not a preset name or spec text",)),
    # -- attacks ------------------------------------------------------------------------------------------------------
    Bad("attack", "deep json text", "[" * 100_000 + "]" * 100_000, ("nested more than 32 levels deep",)),
    Bad("attack", "deep json file", lambda d: _write(d / "deep.json", b"[" * 50_000 + b"]" * 50_000), ("nested more than 32 levels deep",)),
    Bad("attack", "deep dict", lambda _: _deep(40), ("the spec is nested more than 32 levels deep",)),
    Bad("attack", "self-referencing dict", lambda _: _cycle(), ("the spec is nested more than 32 levels deep (or refers to itself)",)),
    Bad("attack", "yaml billion laughs", "\n".join(["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]" for p, c in zip("abcdefgh", "bcdefghi")]),
        ("more than 100000 values",)),
    Bad("attack", "huge list", lambda _: on(schedule={"name": "piecewise_linear", "x": [0.0] * 200_000, "y": [0.5] * 200_000}), ("more than 100000 values",)),
    Bad("attack", "huge knots", lambda _: on(schedule={"name": "piecewise_linear", "x": [i / 20_000 for i in range(20_001)], "y": [0.5] * 20_001}), ("at most 10000 items",)),
    Bad("attack", "huge name", lambda _: on(schedule="c" * 5_000), ("unknown schedule 'cccccc", "…")),
    Bad("attack", "huge string", lambda _: on(schedule="c" * 20_000), ("has a string of 20000 characters; at most 10000 are read",)),
    Bad("attack", "huge text", lambda _: "{" + " " * (1 << 21) + "}", ("longer than 1048576 bytes",)),
    Bad("attack", "control characters in a name", on(schedule="cos\x1b[31mine"), ("unknown schedule 'cos\\x1b[31mine'",)),
    Bad("attack", "a module path as a name", on(schedule="os.system"), ("unknown schedule 'os.system'",)),
    Bad("attack", "a module path as a preset", "gdf_core.gdf:GDF", ("unknown preset 'GDF' from distribution 'gdf_core.gdf'",)),
    Bad("attack", "a class path as a spec name", on(loss_weight={"name": "builtins.eval"}), ("unknown loss_weight 'builtins.eval'",)),
    Bad("attack", "buckets 10**15 in the adaptive weight", on(loss_weight={"name": "adaptive", "buckets": 10**15}), ("loss_weight.adaptive.buckets", "less than or equal to 100000")),
    Bad("attack", "num_train_timesteps 10**9", on(sample_schedule={"name": "zero_terminal_snr", "num_train_timesteps": 10**9}), ("less than or equal to 100000",)),
    Bad("attack", "a hostile repr", lambda _: on(schedule=_HostileRepr()), ("expected a schedule", "got _HostileRepr <_HostileRepr>")),
]


class _HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _deep(levels: int) -> dict[str, Any]:
    inner: Any = 1
    for _ in range(levels):
        inner = [inner]
    return on(schedule={"name": "cosine", "s": inner})


def _cycle() -> dict[str, Any]:
    spec = on()
    spec["schedule"] = {"name": "cosine", "s": spec}
    return spec


def _resolve(spec: Source, tmp_path: Path) -> Any:
    return spec(tmp_path) if callable(spec) else spec


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.id}" for c in CASES])
def test_a_bad_spec_is_one_spec_error_with_the_words_a_user_needs(case: Bad, tmp_path: Path) -> None:
    source = _resolve(case.spec, tmp_path)
    with pytest.raises(SpecError) as info:
        if isinstance(source, tuple) and source[0] == "build":
            from gdf_core import build

            build(source[1], source[2])
        else:
            GDF.from_spec(source)
    message = str(info.value)
    for words in case.words:
        assert words in message, f"{words!r} not in {message!r}"
    assert len(message) < 4000, "an error quotes at most short excerpts"


def test_there_are_at_least_150_distinct_bad_specs() -> None:
    ids = [(c.category, c.id) for c in CASES]
    assert len(set(ids)) == len(ids) >= 150
    specs = [repr(c.spec) for c in CASES if not callable(c.spec)]
    assert len(set(specs)) == len(specs)


def test_a_file_is_never_echoed_beyond_a_short_excerpt(tmp_path: Path) -> None:
    secret = "s3cr3t-" * 500
    for name, text in [("spec.json", '{"schedule": "' + secret + '"'), ("spec.yaml", f"schedule: [{secret}"), ("notes", secret)]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SpecError) as info:
            GDF.from_spec(path)
        assert secret not in str(info.value) and str(info.value).count("s3cr3t") <= 9, str(info.value)


def test_validate_reports_every_error_and_the_spec_error_lists_them() -> None:
    from gdf_core.spec import validate_spec

    with pytest.raises(SpecError) as info:
        validate_spec(on(schedule={"name": "cosine", "s": NAN}, input_scaler="vq", offset_noise=-1))
    paths = [issue.path for issue in info.value.issues]
    assert paths == ["offset_noise", "schedule.cosine.s", "input_scaler"]
    assert str(info.value).splitlines()[0] == "3 problems in the spec:"


def test_a_union_parameter_names_no_pydantic_branch_tags():
    # "(element function-before[_refuse_bool(), constrained-float])" and "shift.dict[str,any]" leaked into messages
    for spec in ({"preset": "sd3", "guidance": {"name": "cfg", "scale": float("nan")}}, {"preset": "sd3", "shift": 0}):
        with pytest.raises(SpecError) as info:
            GDF.from_spec(spec)
        assert "function-before" not in str(info.value) and "dict[str,any]" not in str(info.value)
        assert len(info.value.issues) == 1, str(info.value)
