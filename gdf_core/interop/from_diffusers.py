"""A diffusers scheduler config → a gdf spec: the training recipe, the sampler and its grid.

Every option of the scheduler is read: mapped to a component parameter,
checked to be at a value gdf reproduces, or refused with a ``SpecError``
naming it. Nothing is dropped silently; where gdf only has a nearest
equivalent (PNDM), the conversion says so in ``approximations``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from gdf_core.errors import SpecError
from gdf_core.interop.diffusers_config import read_scheduler_config
from gdf_core.interop.scheduler_options import SCHEDULER_OPTIONS
from gdf_core.registry import registry

TABLE_OPTIONS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "rescale_betas_zero_snr")

#: Schedulers that put ᾱ_{T−1} = 2⁻²⁴ instead of 0 after rescaling to zero terminal SNR.
TERMINAL_2_POW_M24 = {
    "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "UniPCMultistepScheduler",
}

TARGETS = {"epsilon": "epsilon", "v_prediction": "v", "sample": "x0"}

#: scheduler → the set_timesteps family reproduced by ``diffusers_grid``.
GRID_ALGORITHM = {
    "DDIMScheduler": "ddim",
    "DDPMScheduler": "ddim",
    "PNDMScheduler": "ddim",
    "EulerDiscreteScheduler": "euler",
    "EulerAncestralDiscreteScheduler": "euler",
    "HeunDiscreteScheduler": "euler",
    "LMSDiscreteScheduler": "euler",
    "DPMSolverMultistepScheduler": "dpm",
    "UniPCMultistepScheduler": "dpm",
    "DEISMultistepScheduler": "dpm",
}


@dataclass
class Conversion:
    """The result of reading a diffusers scheduler: the gdf spec and what was done with every option."""

    scheduler: str
    spec: dict[str, Any]
    mapped: list[str] = field(default_factory=list)
    approximations: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Whether gdf reproduces the scheduler exactly (no approximation)."""
        return not self.approximations

    def report(self) -> str:
        """A human-readable account, one line per option group."""
        lines = [f"{self.scheduler} → gdf"]
        lines += [f"  mapped: {m}" for m in self.mapped]
        lines += [f"  APPROXIMATED: {a}" for a in self.approximations]
        lines += [f"  ignored: {i}" for i in self.ignored]
        return "\n".join(lines)


class _Options:
    """The config's options, each to be consumed exactly once by the conversion."""

    def __init__(self, scheduler: str, config: dict[str, Any]) -> None:
        self.scheduler = scheduler
        self.config = config
        self.known = SCHEDULER_OPTIONS[scheduler]
        self.used: set[str] = set()

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.config.get(key, self.known.get(key))

    def number(self, key: str, *, integer: bool = False) -> Any:
        """The option as a float (an int with ``integer``), refused by name if it is not a real number."""
        return _real(self.scheduler, key, self.get(key), integer=integer)

    def require(self, key: str, allowed: tuple[Any, ...], why: str) -> Any:
        value = self.get(key)
        if key in self.config and value not in allowed:
            raise SpecError(f"{self.scheduler}: {key}={value!r} is not reproduced by gdf ({why})", path=key)
        return value

    def leftovers(self) -> tuple[list[str], list[str]]:
        """(options of the scheduler that nothing read, keys that are not options of it)."""
        unread = [k for k in self.config if k in self.known and k not in self.used]
        foreign = [k for k in self.config if k not in self.known]
        return unread, foreign


def _real(scheduler: str, key: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` as a float (an int with ``integer``), or a SpecError naming ``key`` (bools and strings refused)."""
    whole = isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not whole):
        kind = "an integer" if integer else "a number"
        raise SpecError(f"{scheduler}: {key}={value!r} must be {kind}", path=key)
    return int(float(value)) if integer else float(value)


def _table(opts: _Options) -> dict[str, Any]:
    table = {k: opts.get(k) for k in TABLE_OPTIONS if k in opts.known}
    table.setdefault("rescale_betas_zero_snr", False)
    if table["trained_betas"] is not None:
        table["trained_betas"] = [float(b) for b in table["trained_betas"]]
    if table["beta_schedule"] not in ("linear", "scaled_linear", "squaredcos_cap_v2") and table["trained_betas"] is None:
        raise SpecError(f"{opts.scheduler}: beta_schedule={table['beta_schedule']!r} is not one gdf reproduces", path="beta_schedule")
    if table["rescale_betas_zero_snr"] and opts.scheduler in TERMINAL_2_POW_M24:
        table["terminal_alphas_cumprod"] = 2.0**-24
    return {k: v for k, v in table.items() if v is not None}


def _thresholded(opts: _Options, c: "Conversion", prediction: Any, noise: str) -> Any:
    """The target: ``prediction``, or it with x̂0 dynamically thresholded / clipped as the config asks.

    diffusers thresholds when ``thresholding`` is set and clips otherwise when ``clip_sample`` is;
    ``noise`` is how its step gets ε̂ afterwards (DDIM keeps the model's, the others recompute it).
    """
    thresholding = bool(opts.get("thresholding")) if "thresholding" in opts.known else False
    clipping = bool(opts.get("clip_sample")) if "clip_sample" in opts.known else False
    for key in ("dynamic_thresholding_ratio", "sample_max_value", "clip_sample_range"):
        if key in opts.known:
            opts.get(key)  # read (and so not reported as dropped) whether or not the limit is on
    if thresholding:
        ratio, max_value = opts.get("dynamic_thresholding_ratio"), opts.get("sample_max_value")
        c.mapped.append(f"thresholding (ratio {ratio}, sample_max_value {max_value}) → target thresholded (dynamic, ε̂ {noise})")
        return {"name": "thresholded", "prediction": prediction, "method": "dynamic", "ratio": float(ratio),
                "max_value": float(max_value), "noise": noise}
    if clipping:
        clip_range = opts.get("clip_sample_range")
        c.mapped.append(f"clip_sample (±{clip_range}) → target thresholded (clip, ε̂ {noise})")
        return {"name": "thresholded", "prediction": prediction, "method": "clip", "clip_range": float(clip_range), "noise": noise}
    return prediction


def _sigmas_option(opts: _Options) -> str:
    chosen = [k for k in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas") if k in opts.known and opts.get(k)]
    if len(chosen) > 1:
        raise SpecError(f"{opts.scheduler}: only one of {', '.join(chosen)} can be true", path=chosen[1])
    return {"use_karras_sigmas": "karras", "use_exponential_sigmas": "exponential", "use_beta_sigmas": "beta"}[chosen[0]] if chosen else "table"


def _final(opts: _Options, sigmas: str) -> str:
    """The level a run ends on, as the scheduler's set_timesteps appends it."""
    if "set_alpha_to_one" in opts.known:
        return "data" if opts.get("set_alpha_to_one") else "first_timestep"
    repeats_last = sigmas != "table"
    if opts.scheduler == "DEISMultistepScheduler":  # no option: σ of ᾱ_0, or the last σ again
        return "last_level" if repeats_last else "first_timestep"
    if "final_sigmas_type" in opts.known:
        value = opts.require("final_sigmas_type", ("zero", "sigma_min"), "final_sigmas_type is 'zero' or 'sigma_min'")
        if value == "zero":
            return "data"
        return "last_level" if repeats_last and opts.scheduler == "UniPCMultistepScheduler" else "first_timestep"
    return "data"


def _sampler(name: str, opts: _Options, c: Conversion) -> dict[str, Any] | str:
    """The gdf sampler that takes the scheduler's steps, with its diffusers-compatible options."""
    if name == "DDIMScheduler":
        return {"name": "ddim", "eta": 0.0}
    if name == "DDPMScheduler":
        opts.require("variance_type", ("fixed_small",), "only DDPM's posterior variance β̃ (fixed_small) is gdf's ddpm step")
        return "ddpm"
    if name in ("EulerDiscreteScheduler",):
        opts.require("interpolation_type", ("linear",), "log_linear σ grids are not reproduced")
        opts.require("timestep_type", ("discrete",), "continuous timesteps (0.25·log σ) are not reproduced")
        opts.require("sigma_min", (None,), "σ bounds of the Karras grid other than the grid's own ends")
        opts.require("sigma_max", (None,), "σ bounds of the Karras grid other than the grid's own ends")
        return "euler"
    if name == "EulerAncestralDiscreteScheduler":
        return "euler_ancestral"
    if name == "HeunDiscreteScheduler":
        c.mapped.append("the Heun step → sampler diffusers_heun (EDM's Heun with a plain Euler last step, 2N − 1 calls)")
        return "diffusers_heun"
    if name == "LMSDiscreteScheduler":
        # diffusers' step(order=4) warms up at plain lower order
        return {"name": "lms", "order": 4, "warmup_corrector": False}
    if name == "PNDMScheduler":
        skip = opts.get("skip_prk_steps")
        c.approximations.append(
            "PNDM (Liu et al. 2022) → gdf's ipndm (order 4, Adams–Bashforth on ε in σ): the nearest equivalent, "
            + ("not exact: PLMS spends one extra model call on its first step (N + 1 calls) and warms up differently"
               if skip else "not exact: the Runge–Kutta (PRK) warm-up takes 3 steps of 4 calls each")
        )
        return {"name": "ipndm", "order": 4}
    if name == "DPMSolverMultistepScheduler":
        return _dpm_solver(opts, c)
    if name == "UniPCMultistepScheduler":
        opts.require("predict_x0", (True,), "UniPC with noise prediction (predict_x0=False) is not gdf's unipc")
        opts.require("disable_corrector", ([],), "disabling the corrector at chosen steps is not a unipc option")
        opts.require("solver_p", (None,), "a separate solver_p is not a unipc option")
        order = opts.number("solver_order", integer=True)
        variant = opts.require("solver_type", ("bh1", "bh2"), "UniPC's B(h) is bh1 or bh2")
        sampler: dict[str, Any] = {"name": "diffusers_unipc", "solver_order": order, "solver_type": variant}
        if not opts.get("lower_order_final"):
            sampler["lower_order_final"] = False
        c.mapped.append(
            "solver_order, solver_type, lower_order_final → sampler diffusers_unipc (diffusers' warm-up, corrector and "
            "last-step orders; gdf's own unipc is more accurate, see the docs)"
        )
        if variant == "bh1" and opts.get("final_sigmas_type") == "zero":
            c.mapped.append("bh1 into σ = 0: diffusers' own last step is NaN (−∞·0 in B(h)); gdf's is finite")
        return sampler
    if name == "DEISMultistepScheduler":
        opts.require("algorithm_type", ("deis",), "only algorithm_type 'deis'")
        opts.require("solver_type", ("logrho",), "only solver_type 'logrho'")
        sampler = {"name": "diffusers_deis", "solver_order": opts.number("solver_order", integer=True)}
        if not opts.get("lower_order_final"):
            sampler["lower_order_final"] = False
        c.mapped.append(
            "solver_order, lower_order_final → sampler diffusers_deis (diffusers' warm-up and last-step orders; "
            "gdf's own deis is more accurate, see the docs)"
        )
        return sampler
    raise SpecError(f"{name}: no gdf sampler reproduces it", path="_class_name")  # pragma: no cover


#: The multistep schedulers that can step on flow σ (``use_flow_sigmas``), and their grid family.
FLOW_SIGMA_GRIDS = {"DPMSolverMultistepScheduler": "dpm", "DEISMultistepScheduler": "dpm", "UniPCMultistepScheduler": "unipc"}

#: prediction_type on flow σ → the target, with α = 1 − σ (v_prediction's x̂0 = α·x − σ·v assumes α² + σ² = 1).
FLOW_SIGMA_TARGETS = {"flow_prediction": "rectified_flows", "epsilon": "epsilon", "sample": "x0"}


def table_sigma_min(table: dict[str, Any]) -> float:
    """σ = √((1 − ᾱ_0)/ᾱ_0) of a β table, in float32 as diffusers computes it."""
    ab0 = registry.get("schedule", "diffusers_betas")(**table).alphas_cumprod.to(torch.float32)[0]
    return float(((1 - ab0) / ab0) ** 0.5)


def _multistep_on_flow_sigmas(opts: _Options, c: Conversion, mu: Optional[float]) -> dict[str, Any]:
    """A multistep scheduler with ``use_flow_sigmas=True`` (Sana, Wan 2.1): rectified flow, the flow-σ grid, the solver."""
    name = opts.scheduler
    opts.get("use_flow_sigmas")
    prediction = opts.require(
        "prediction_type", tuple(FLOW_SIGMA_TARGETS),
        "on flow σ gdf reproduces flow_prediction, epsilon and sample (diffusers' v_prediction there assumes α² + σ² = 1)",
    )
    for key in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas"):
        if key in opts.known:
            opts.require(key, (False,), "other σ spacings are not reproduced on flow σ")
    for key in ("sigma_min", "sigma_max"):
        if key in opts.known:
            opts.require(key, (None,), "σ bounds are not reproduced on flow σ")
    if name == "DPMSolverMultistepScheduler" and prediction == "flow_prediction":
        opts.require("algorithm_type", ("dpmsolver++", "sde-dpmsolver++"),
                     "diffusers' noise-form DPM-Solver has no flow_prediction (its step raises): use dpmsolver++ or sde-dpmsolver++")
    dynamic = bool(opts.get("use_dynamic_shifting"))
    opts.require("time_shift_type", ("exponential",), "the flow-σ time shift is exponential (s = e^μ)")
    if mu is not None and not dynamic:
        raise SpecError(f"{name}: mu={mu} is given but use_dynamic_shifting is False (diffusers refuses it too)", path="use_dynamic_shifting")
    if dynamic and mu is None and name == "UniPCMultistepScheduler":
        raise SpecError(f"{name}: use_dynamic_shifting=True needs mu (diffusers' pipelines compute it from the image size): pass mu=",
                        path="use_dynamic_shifting")
    algorithm = FLOW_SIGMA_GRIDS[name]
    T = opts.number("num_train_timesteps", integer=True)
    grid: dict[str, Any] = {"name": "diffusers_flow_sigmas", "num_train_timesteps": T, "algorithm": algorithm,
                            "flow_shift": opts.number("flow_shift")}
    if dynamic and mu is not None:
        grid.update(use_dynamic_shifting=True, mu=_real(name, "mu", mu))
    if "shift_terminal" in opts.known and opts.get("shift_terminal"):
        grid["shift_terminal"] = opts.number("shift_terminal")
    table = _table(opts)  # read: only DPM-Solver's final_sigmas_type="sigma_min" uses it on flow σ
    if name == "DEISMultistepScheduler":
        grid["final"] = "last_level"
    elif opts.require("final_sigmas_type", ("zero", "sigma_min"), "final_sigmas_type is 'zero' or 'sigma_min'") == "sigma_min":
        if name == "UniPCMultistepScheduler":
            grid["final"] = "last_level"
        else:
            grid.update(final="sigma", final_sigma=table_sigma_min(table))
            c.mapped.append(
                f"final_sigmas_type=sigma_min → the run ends at σ = {grid['final_sigma']:.6g}, the β table's σ of ᾱ_0 read as a "
                "flow σ, as diffusers does"
            )
    unused = {k: opts.get(k) for k in ("timestep_spacing", "steps_offset", "lambda_min_clipped") if k in opts.known}
    c.mapped.append(
        f"use_flow_sigmas, flow_shift={grid['flow_shift']}"
        + (f", use_dynamic_shifting with mu={mu}" if "mu" in grid else "")
        + f" → diffusers_flow_sigmas ({algorithm} family, final {grid.get('final', 'data')})"
    )
    c.mapped.append("no effect on flow σ, read and unused: " + ", ".join(f"{k}={v!r}" for k, v in unused.items()))
    c.mapped.append(f"prediction_type={prediction} → target {FLOW_SIGMA_TARGETS[prediction]} (α = 1 − σ)")
    c.mapped.append("timesteps given to the model → flow_timestep (σ·T, truncated to int64 as diffusers does)")
    return {
        "schedule": {"name": "rectified_flows", "logsnr_range": [-30.0, 30.0]},
        "input_scaler": "lerp",
        "target": _thresholded(opts, c, FLOW_SIGMA_TARGETS[prediction], "consistent"),
        "noise_cond": {"name": "flow_timestep", "num_train_timesteps": T, "rounding": "floor"},
        "loss_weight": "constant",
        "sample_schedule": grid,
        "sampler": _sampler(name, opts, c),
    }


def _no_flow_sigmas(opts: _Options) -> None:
    """The flow-sigma options of the multistep schedulers: refused unless off (they only act with use_flow_sigmas)."""
    why = "multistep solvers on flow sigmas are not reproduced: convert the flow-matching scheduler instead"
    for key, off in (("use_flow_sigmas", False), ("use_dynamic_shifting", False), ("sigma_min", None), ("sigma_max", None), ("shift_terminal", None)):
        if key in opts.known:
            opts.require(key, (off,), why)
    for key in ("flow_shift", "time_shift_type"):
        if key in opts.known:
            opts.get(key)


def _dpm_solver(opts: _Options, c: Conversion) -> dict[str, Any]:
    algorithm = opts.require(
        "algorithm_type", ("dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"),
        "algorithm_type is dpmsolver++, sde-dpmsolver++, dpmsolver or sde-dpmsolver",
    )
    order = opts.require("solver_order", (1, 2, 3), "solver_order is 1, 2 or 3")
    solver_type = opts.require("solver_type", ("midpoint", "heun"), "solver_type is midpoint or heun")
    opts.require("variance_type", (None,), "learned-range variance is not reproduced")
    opts.require("use_lu_lambdas", (False,), "Lu's uniform-λ grid is not reproduced: use a gdf exponential schedule")
    final = opts.require("final_sigmas_type", ("zero", "sigma_min"), "final_sigmas_type is 'zero' or 'sigma_min'")
    if final == "zero" and algorithm in ("dpmsolver", "sde-dpmsolver"):
        raise SpecError(
            f"{opts.scheduler}: final_sigmas_type='zero' with algorithm_type={algorithm!r}: the noise form cannot step into "
            "σ = 0 (diffusers refuses it too); use final_sigmas_type='sigma_min' or a dpmsolver++ algorithm",
            path="final_sigmas_type",
        )
    sampler: dict[str, Any] = {"name": "diffusers_dpmsolver", "solver_order": int(order), "algorithm_type": algorithm}
    if solver_type != "midpoint":
        sampler["solver_type"] = solver_type
    if not opts.get("lower_order_final"):
        sampler["lower_order_final"] = False
    if opts.get("euler_at_final"):
        sampler["euler_at_final"] = True
    if final != "zero":
        sampler["final_sigmas_type"] = final
    c.mapped.append(
        "solver_order, algorithm_type, solver_type, lower_order_final, euler_at_final, final_sigmas_type → "
        "sampler diffusers_dpmsolver (diffusers' warm-up and last-step orders; gdf's dpmpp_2m/dpmpp_3m are more accurate, see the docs)"
    )
    return sampler


#: FlowMatchEulerDiscreteScheduler options only diffusers' pipelines read (to compute mu).
PIPELINE_MU_OPTIONS = ("base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len")


def _flow_match(opts: _Options, c: Conversion, mu: Optional[float]) -> dict[str, Any]:
    opts.require("invert_sigmas", (False,), "inverted σ (1 − σ) are not reproduced")
    opts.require("stochastic_sampling", (False,), "stochastic flow-match sampling is not reproduced")
    dynamic = bool(opts.get("use_dynamic_shifting"))
    pipeline = {k: opts.get(k) for k in PIPELINE_MU_OPTIONS}
    c.ignored.append(
        ", ".join(f"{k}={v}" for k, v in pipeline.items()) + ": read by diffusers' pipelines to compute mu from the "
        "image size, not by the scheduler; gdf takes mu from from_diffusers(mu=...), and to_diffusers does not keep them"
    )
    if dynamic:
        if mu is None:
            raise SpecError(
                "FlowMatchEulerDiscreteScheduler: use_dynamic_shifting=True needs mu (it depends on the image size; "
                "diffusers' pipelines compute it from base_shift/max_shift and the sequence length): pass mu=",
                path="use_dynamic_shifting",
            )
        c.mapped.append(f"use_dynamic_shifting with mu={mu} → diffusers_flow_grid mu")
    sigmas = _sigmas_option(opts)
    grid: dict[str, Any] = {
        "name": "diffusers_flow_grid",
        "num_train_timesteps": opts.number("num_train_timesteps", integer=True),
        "flow_shift": opts.number("shift"),
        "use_dynamic_shifting": dynamic,
        "time_shift_type": opts.require("time_shift_type", ("exponential", "linear"), "exponential or linear"),
    }
    if dynamic:
        grid["mu"] = _real(opts.scheduler, "mu", mu)
    if opts.get("shift_terminal"):
        grid["shift_terminal"] = opts.number("shift_terminal")
    if sigmas != "table":
        grid["sigmas"] = sigmas
    c.mapped.append(f"shift={grid['flow_shift']} → diffusers_flow_grid flow_shift (applied once per run, as diffusers does)")
    return {
        "schedule": {"name": "rectified_flows", "logsnr_range": [-30.0, 30.0]},
        "input_scaler": "lerp",
        "target": "rectified_flows",
        "noise_cond": {"name": "flow_timestep", "num_train_timesteps": grid["num_train_timesteps"]},
        "loss_weight": "constant",
        "sample_schedule": grid,
        "sampler": "euler",
    }


EDM_TARGETS = {"epsilon": "edm", "v_prediction": "edm_v"}


def _edm_euler(opts: _Options, c: Conversion) -> dict[str, Any]:
    """EDMEulerScheduler (Karras et al. 2022): EDM's preconditioning, σ grid and Euler step."""
    prediction = opts.require("prediction_type", tuple(EDM_TARGETS), "EDMEulerScheduler predicts epsilon or v_prediction")
    sigma_data = opts.number("sigma_data")
    lo, hi, rho = opts.number("sigma_min"), opts.number("sigma_max"), opts.number("rho")
    schedule = opts.require("sigma_schedule", ("karras", "exponential"), "sigma_schedule is karras or exponential")
    final = opts.require("final_sigmas_type", ("zero", "sigma_min"), "final_sigmas_type is 'zero' or 'sigma_min'")
    opts.get("num_train_timesteps")  # only the length of diffusers' training σ list: no effect on a run
    if not (math.isfinite(sigma_data) and sigma_data > 0):
        raise SpecError(f"EDMEulerScheduler: sigma_data={sigma_data!r} must be finite and > 0", path="sigma_data")
    if not 0 < lo < hi < math.inf:
        raise SpecError(f"EDMEulerScheduler: need 0 < sigma_min < sigma_max < ∞, got {lo}, {hi}", path="sigma_min")
    grid: dict[str, Any] = {"name": "diffusers_edm_grid", "sigma_min": lo, "sigma_max": hi, "rho": rho, "sigma_schedule": schedule}
    if final == "sigma_min":
        grid["final"] = "last_level"
    c.mapped.append(f"sigma_data={sigma_data} → input_scaler edm (c_in), target {EDM_TARGETS[prediction]} (c_skip, c_out)")
    c.mapped.append(f"prediction_type={prediction} → target {EDM_TARGETS[prediction]}")
    c.mapped.append("timesteps given to the model → noise_cond edm (c_noise = ¼·log σ)")
    c.mapped.append(
        f"set_timesteps → diffusers_edm_grid ({schedule} σ from {hi} to {lo}, rho {rho}, final_sigmas_type {final})"
    )
    c.mapped.append("num_train_timesteps: no effect on sampling (the length of diffusers' training σ list)")
    c.mapped.append(
        "training draws: EDM's log σ ~ N(−1.2, 1.2²) and loss weight (the edm preset's; a scheduler does not say)"
    )
    c.mapped.append(
        "start and end: gdf's x is the network input c_in·(x0 + σ·ε); diffusers starts at init_noise_sigma·ε = "
        f"√(σ_max² + 1)·ε, i.e. x_init = c_in(σ_max)·√(σ_max² + 1)·ε in gdf's x, and gdf's final x is diffusers' "
        "sample times c_in of the last level (1/sigma_data at σ = 0)"
    )
    return {
        "schedule": {"name": "edm_train", "mu": -1.2, "std": 1.2},
        "input_scaler": {"name": "edm", "sigma_data": sigma_data},
        "target": {"name": EDM_TARGETS[prediction], "sigma_data": sigma_data},
        "noise_cond": "edm",
        "loss_weight": {"name": "edm", "sigma_data": sigma_data},
        "sample_schedule": grid,
        "sampler": "euler",
    }


def _lcm(opts: _Options, c: Conversion) -> dict[str, Any]:
    """LCMScheduler (Luo et al. 2023): the β table, the skipping grid, the boundary condition, consistency sampling."""
    table = _table(opts)
    prediction = opts.require("prediction_type", tuple(TARGETS), "prediction_type is epsilon, v_prediction or sample")
    base = _thresholded(opts, c, TARGETS[prediction], "consistent")  # LCM limits x̂0 before its boundary condition
    original = opts.number("original_inference_steps", integer=True)
    scaling = opts.number("timestep_scaling")
    if not 1 <= original <= table["num_train_timesteps"]:
        raise SpecError(
            f"LCMScheduler: original_inference_steps={original} must lie in 1 … num_train_timesteps "
            f"({table['num_train_timesteps']})", path="original_inference_steps",
        )
    if not (math.isfinite(scaling) and scaling > 0):
        raise SpecError(f"LCMScheduler: timestep_scaling={scaling!r} must be finite and > 0", path="timestep_scaling")
    unused = {k: opts.get(k) for k in ("timestep_spacing", "steps_offset", "set_alpha_to_one")}
    time = {"name": "diffusers_timestep", **table, "rounding": "round"}
    c.mapped.append(
        f"β table ({'trained_betas' if table.get('trained_betas') else table.get('beta_schedule')}, "
        f"T={table['num_train_timesteps']}" + (", rescaled to zero terminal SNR" if table.get("rescale_betas_zero_snr") else "")
        + ") → diffusers_betas schedule"
    )
    c.mapped.append(
        f"prediction_type={prediction}, timestep_scaling={scaling} → target consistency (prediction {TARGETS[prediction]}, "
        "c_skip, c_out of timestep_scaling·τ with σ_data = 0.5)"
    )
    c.mapped.append("timesteps given to the model → diffusers_timestep (rounding round)")
    c.mapped.append(f"set_timesteps → diffusers_lcm_grid (original_inference_steps {original})")
    c.mapped.append(
        "no effect in diffusers' LCMScheduler, read and unused: "
        + ", ".join(f"{k}={v!r}" for k, v in unused.items())
    )
    return {
        "schedule": {"name": "diffusers_betas", **table},
        "input_scaler": "vp",
        "target": {"name": "consistency", "prediction": base, "time": time, "sigma_data": 0.5, "timestep_scaling": scaling},
        "noise_cond": {"name": "diffusers_timestep", **table, "rounding": "round"},
        "loss_weight": "constant",
        "sample_schedule": {"name": "diffusers_lcm_grid", **table, "original_inference_steps": original},
        "sampler": "lcm",
    }


def convert_diffusers(source: Any, *, scheduler_class: Optional[str] = None, mu: Optional[float] = None) -> Conversion:
    """Read a diffusers scheduler (instance, config, dict, file or folder) into a gdf spec (see the module)."""
    name, config = read_scheduler_config(source, scheduler_class)
    opts = _Options(name, {k: v for k, v in config.items()})
    opts.config = {k: v for k, v in config.items()}
    c = Conversion(scheduler=name, spec={})
    if name == "FlowMatchEulerDiscreteScheduler":
        c.spec = _flow_match(opts, c, mu)
    elif name == "EDMEulerScheduler":
        c.spec = _edm_euler(opts, c)
    elif name == "LCMScheduler":
        c.spec = _lcm(opts, c)
    elif name in FLOW_SIGMA_GRIDS and opts.get("use_flow_sigmas"):
        c.spec = _multistep_on_flow_sigmas(opts, c, mu)
    else:
        table = _table(opts)
        prediction = opts.require(
            "prediction_type", tuple(TARGETS),
            "prediction_type is epsilon, v_prediction or sample" + (" (flow_prediction needs use_flow_sigmas=True)" if name in FLOW_SIGMA_GRIDS else ""),
        )
        algorithm = GRID_ALGORITHM[name]
        grid: dict[str, Any] = {
            "name": "diffusers_grid",
            **table,
            "algorithm": algorithm,
            "timestep_spacing": opts.require("timestep_spacing", ("leading", "trailing", "linspace"), "leading, trailing or linspace"),
            "steps_offset": opts.number("steps_offset", integer=True),
        }
        sigmas = _sigmas_option(opts)
        grid["final"] = _final(opts, sigmas)
        if sigmas != "table":
            grid["sigmas"] = sigmas
        if algorithm == "dpm":
            _no_flow_sigmas(opts)
        if name == "DDPMScheduler":  # its step goes to the next timestep it evaluates (previous_timestep), not τ − ⌊T/N⌋
            grid["exact_steps"] = False
        if "lambda_min_clipped" in opts.known:
            clip = opts.number("lambda_min_clipped")
            if clip != -math.inf:
                grid["lambda_min_clipped"] = clip
        rounding = "round" if algorithm in ("ddim", "dpm") else "none"
        if algorithm == "dpm" and (sigmas in ("exponential", "beta") or (sigmas == "karras" and table.get("beta_schedule") == "squaredcos_cap_v2")):
            rounding = "floor"  # diffusers casts these unrounded timesteps to int64
        interpolation = "sigma" if algorithm == "euler" and sigmas == "table" else "log_sigma"
        noise_cond = {"name": "diffusers_timestep", **table, "interpolation": interpolation, "rounding": rounding}
        c.spec = {
            "schedule": {"name": "diffusers_betas", **table},
            "input_scaler": "vp",
            "target": _thresholded(opts, c, TARGETS[prediction], "model" if name == "DDIMScheduler" else "consistent"),
            "noise_cond": noise_cond,
            "loss_weight": "constant",
            "sample_schedule": grid,
            "sampler": _sampler(name, opts, c),
        }
        c.mapped.append(
            f"β table ({'trained_betas' if table.get('trained_betas') else table.get('beta_schedule')}, T={table['num_train_timesteps']}"
            + (", rescaled to zero terminal SNR" if table.get("rescale_betas_zero_snr") else "") + ") → diffusers_betas schedule"
        )
        c.mapped.append(f"prediction_type={prediction} → target {TARGETS[prediction]}")
        c.mapped.append(
            f"timesteps given to the model → diffusers_timestep (interpolation {interpolation}, rounding {rounding})"
        )
        c.mapped.append(
            f"set_timesteps → diffusers_grid ({algorithm}: spacing {grid['timestep_spacing']}, steps_offset "
            f"{grid['steps_offset']}, σ {sigmas}, final {grid['final']})"
        )
        if algorithm == "euler" and grid["timestep_spacing"] != "leading":
            c.mapped.append(
                "start: diffusers scales the start noise by init_noise_sigma = σ_max here, which is √(1 − ᾱ_T)·ε in gdf's "
                "variance-preserving x; gdf.sample(x_init=ε) starts at ε (pass x_init = √(1 − ᾱ_T)·ε to start where diffusers does)"
            )
    sampler = c.spec["sampler"]
    c.mapped.append(f"the scheduler's step → sampler {sampler if isinstance(sampler, str) else sampler['name']}")
    unread, foreign = opts.leftovers()
    unread = [k for k in unread if config[k] != SCHEDULER_OPTIONS[name][k]]
    if unread:
        raise SpecError(
            f"{name}: the option(s) {', '.join(unread)} are not reproduced by gdf", path=unread[0]
        )
    c.ignored += [f"{k}={config[k]!r} (not an option of {name}; diffusers ignores it too)" for k in foreign]
    return c


__all__ = ["Conversion", "convert_diffusers"]
