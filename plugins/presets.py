"""Built-in presets: well-known recipes as GDF specs, registered like any plugin's.

Each is plain data; ``GDF.from_spec("edm")`` builds one and
``GDF.from_spec({"preset": "edm", "loss_weight": "sech"})`` overrides a part.
"""

from __future__ import annotations

from typing import Any

from gdf_core.hookspecs import hookimpl

PRESETS: dict[str, dict[str, Any]] = {
    # The seed README's GDF (Stable Cascade): cosine schedule, ε-prediction, P2 weighting.
    "stable_cascade": {
        "schedule": {"name": "cosine", "clamp_range": [0.0001, 0.9999]},
        "input_scaler": "vp",
        "target": "epsilon",
        "noise_cond": "cosine_t",
        "loss_weight": "p2",
    },
    # DDPM with the improved cosine schedule (Ho et al. 2020; Nichol & Dhariwal 2021).
    "ddpm": {
        "schedule": "cosine",
        "input_scaler": "vp",
        "target": "epsilon",
        "noise_cond": "cosine_t",
        "loss_weight": "constant",
        "sampler": "ddpm",
    },
    # v-prediction (Salimans & Ho 2022) on the cosine schedule.
    "v_prediction": {
        "schedule": "cosine",
        "input_scaler": "vp",
        "target": "v",
        "noise_cond": "cosine_t",
        "loss_weight": "constant",
        "sampler": "ddim",
    },
    # EDM (Karras et al. 2022, Table 1, config F): log σ ~ N(−1.2, 1.2²), σ_data = 0.5,
    # c_in (the edm scaler), c_skip/c_out (the edm target), c_noise = ln(σ)/4 = −λ/8,
    # loss weight λ(σ) = (σ² + σ_d²)/(σ·σ_d)², i.e. 1 in F's units; Heun on σ from 80 to 0.002, ρ = 7.
    "edm": {
        "schedule": {"name": "edm_train", "mu": -1.2, "std": 1.2},
        "input_scaler": {"name": "edm", "sigma_data": 0.5},
        "target": {"name": "edm", "sigma_data": 0.5},
        "noise_cond": "edm",
        "loss_weight": {"name": "edm", "sigma_data": 0.5},
        "sample_schedule": {"name": "karras", "sigma_min": 0.002, "sigma_max": 80, "rho": 7},
        "sampler": "heun",
    },
    # EDM2 (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of Diffusion
    # Models"): EDM's preconditioning, log σ ~ N(−0.4, 1²), and a learned per-σ weighting:
    # EDM2 learns u(σ) with loss λ(σ)/e^u·‖D − y‖² + u, whose optimum e^u = E[loss] is what
    # the adaptive loss weight tracks (1/EMA loss per λ bucket). Pair with gdf_core.ema's
    # power-function EMA (PowerEMA, σ_rel). Sampling as EDM (32 Heun steps in the paper).
    "edm2": {
        "schedule": {"name": "edm_train", "mu": -0.4, "std": 1.0},
        "input_scaler": {"name": "edm", "sigma_data": 0.5},
        "target": {"name": "edm", "sigma_data": 0.5},
        "noise_cond": "edm",
        "loss_weight": {"name": "adaptive", "logsnr_range": [-12, 12], "buckets": 100},
        "sample_schedule": {"name": "karras", "sigma_min": 0.002, "sigma_max": 80, "rho": 7},
        "sampler": "heun",
    },
    # Improved DDPM (Nichol & Dhariwal 2021): the cosine schedule with s = 0.008, T = 4000
    # integer timesteps as the model's condition, ε-prediction with the plain MSE (L_simple;
    # the learned-variance L_vlb term is not part of gdf), ancestral DDPM sampling.
    "iddpm_cosine": {
        "schedule": {"name": "cosine", "s": 0.008},
        "input_scaler": "vp",
        "target": "epsilon",
        "noise_cond": {"name": "discrete", "noise_cond": "cosine_t", "steps": 4000},
        "loss_weight": "constant",
        "sampler": "ddpm",
    },
    # Stable Diffusion 3 (Esser et al. 2024): rectified flow, logit-normal t (m = 0, s = 1),
    # and the timestep shift 3.0 of SD3 at 1024² on the GDF, so training draws and the
    # sampling grid read the same value (for a resolution rule: "shift": {"name": "resolution"}).
    "sd3": {
        "schedule": {"name": "logit_normal", "mu": 0.0, "std": 1.0},
        "input_scaler": "lerp",
        "target": "rectified_flows",
        "noise_cond": "rectified_flows",
        "loss_weight": "constant",
        "sample_schedule": "flow_shift",
        "sampler": "euler",
        "shift": 3.0,
    },
    # Stable Cascade's v-prediction EDM variant (the seed's "v_edm" configuration).
    "v_edm": {
        "schedule": {"name": "edm_sample", "sigma_range": [0.002, 80], "p": 7},
        "input_scaler": "vp",
        "target": "v",
        "noise_cond": "edm",
        "loss_weight": {"name": "sech", "div": 2},
    },
    # Rectified flow (Liu et al. 2022; Esser et al. 2024): x = (1 − t)·x0 + t·ε, predict ε − x0.
    "rectified_flow": {
        "schedule": {"name": "rectified_flows", "logsnr_range": [-15, 15]},
        "input_scaler": "lerp",
        "target": "rectified_flows",
        "noise_cond": "rectified_flows",
        "loss_weight": "constant",
        # Uniform t from pure noise (λ = −∞) to clean data (λ = +∞); SD3 uses shift 3 at high resolution.
        "sample_schedule": {"name": "flow_shift", "shift": 1.0},
        "sampler": "dpmpp_2m",
    },
}


@hookimpl
def gdf_register_presets() -> dict[str, dict[str, Any]]:
    return PRESETS
