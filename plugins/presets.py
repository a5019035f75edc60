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
    # EDM (Karras et al. 2022) with σ_data = 1: its preconditioned F-prediction is −v
    # under the VP scaler, its loss weighting is then constant, c_noise = ln(σ)/4 = −λ/8.
    "edm": {
        "schedule": {"name": "edm_train", "mu": -1.2, "std": 1.2},
        "input_scaler": "vp",
        "target": "v",
        "noise_cond": "edm",
        "loss_weight": "constant",
        # EDM's sampling grid (σ from 80 to 0.002, ρ = 7), ending exactly on clean data.
        "sample_schedule": {"name": "karras", "sigma_min": 0.002, "sigma_max": 80, "rho": 7},
        "sampler": "dpmpp_2m",
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
