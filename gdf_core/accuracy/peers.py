"""Other libraries' samplers on the same accuracy problem: k-diffusion and diffusers, when installed.

Neither is a dependency of gdf; each is imported only here, only when asked.

**k-diffusion** works in the variance-exploding variable y = x/a with σ = b/a
and a model that returns x̂0. Its samplers get the very λ grid gdf's get (σ =
e^(−λ/2), λ = +∞ → σ = 0), the same start (y = x_start/a) and the oracle's x̂0
at each σ, so any recipe works. k-diffusion's package ``__init__`` imports its
training stack (torchvision, CLIP, wandb, ...); where that is not installed
its sampling module, which needs only torch, scipy, torchdiffeq and torchsde,
is loaded on its own.

**diffusers** schedulers are discrete-time Stable Diffusion schedulers: they
run on the problem of Stable Diffusion's betas only (VP, ε; its σ range),
each on its default grid and with ``use_karras_sigmas``, as in
``benchmarks/oracle_accuracy.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import types
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from gdf_core.testing.oracle import rms_error

#: k-diffusion's sampling functions compared, with the keyword arguments that make them deterministic.
KDIFFUSION_SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("sample_euler", {}),
    "heun": ("sample_heun", {}),
    "dpm_2": ("sample_dpm_2", {}),
    "lms": ("sample_lms", {}),
    "dpmpp_2m": ("sample_dpmpp_2m", {}),
    "dpmpp_2m_sde(eta=0)": ("sample_dpmpp_2m_sde", {"eta": 0.0}),
    "dpmpp_3m_sde(eta=0)": ("sample_dpmpp_3m_sde", {"eta": 0.0}),
}


def kdiffusion_sampling() -> Optional[types.ModuleType]:
    """``k_diffusion.sampling``, or None when k-diffusion is not installed."""
    try:
        return importlib.import_module("k_diffusion.sampling")
    except ImportError:
        pass
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        return None
    # The package's __init__ needs its training dependencies: load sampling.py alone, with the one
    # helper it takes from k_diffusion.utils (append_dims).
    folder = list(spec.submodule_search_locations)[0]
    package = types.ModuleType("_gdf_kdiffusion")
    package.__path__ = [folder]
    utils = types.ModuleType("_gdf_kdiffusion.utils")

    def append_dims(x: Tensor, target_dims: int) -> Tensor:
        return x[(...,) + (None,) * (target_dims - x.ndim)]

    utils.append_dims = append_dims  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    sys.modules.setdefault("_gdf_kdiffusion", package)
    sys.modules.setdefault("_gdf_kdiffusion.utils", utils)
    file_spec = importlib.util.spec_from_file_location("_gdf_kdiffusion.sampling", f"{folder}/sampling.py")
    if file_spec is None or file_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(file_spec)
    try:
        file_spec.loader.exec_module(module)
    except ImportError:
        return None
    return module


def kdiffusion_version() -> Optional[str]:
    from importlib_metadata import PackageNotFoundError, version

    try:
        return version("k-diffusion")
    except PackageNotFoundError:
        return None


def run_kdiffusion(problem: Any, function: Callable[..., Tensor], kwargs: dict[str, Any], logsnrs: list[float]) -> tuple[int, float]:
    """(model calls, RMS error) of a k-diffusion sampler on ``problem`` over the λ grid ``logsnrs``."""
    scaler, mixture = problem.gdf.input_scaler, problem.mixture
    lam = torch.tensor(logsnrs, dtype=torch.float64)
    sigmas = torch.exp(-lam / 2)  # λ = +∞ → σ = 0
    a0 = float(scaler(lam[:1])[0][0])
    calls = [0]

    def model(y: Tensor, sigma: Tensor) -> Tensor:
        calls[0] += 1
        s = float(sigma.reshape(-1)[0])
        return mixture.posterior_mean(y, 1.0, s) if s > 0 else y

    y = function(model, problem.x_start / a0, sigmas, disable=True, **kwargs)
    a_end = float(scaler(lam[-1:])[0][0])
    return calls[0], rms_error(a_end * y, problem.reference)


def diffusers_configs() -> dict[str, tuple[Any, dict[str, Any], int]]:
    """name → (scheduler class, options, model calls per step) of the diffusers schedulers compared."""
    import diffusers

    return {
        "DDIM": (diffusers.DDIMScheduler, dict(timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False), 1),
        "Euler": (diffusers.EulerDiscreteScheduler, {}, 1),
        "Heun": (diffusers.HeunDiscreteScheduler, {}, 2),
        "LMS": (diffusers.LMSDiscreteScheduler, {}, 1),
        "DPM++2M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=2), 1),
        "DPM++3M": (diffusers.DPMSolverMultistepScheduler, dict(solver_order=3), 1),
        "UniPC": (diffusers.UniPCMultistepScheduler, {}, 1),
        "DEIS": (diffusers.DEISMultistepScheduler, {}, 1),
    }


def run_diffusers(problem: Any, scheduler: Any, steps: int) -> tuple[int, float]:
    """(model calls, RMS error) of diffusers' own loop with the oracle as a Stable Diffusion ε-model."""
    scheduler.set_timesteps(steps)
    alphas_cumprod = scheduler.alphas_cumprod.to(torch.float64)
    latents = problem.x_start.clone() * float(scheduler.init_noise_sigma)
    calls = 0
    for t in scheduler.timesteps:
        model_in = scheduler.scale_model_input(latents, t)
        sigmas = getattr(scheduler, "sigmas", None)
        if sigmas is not None and len(sigmas) > 1:
            index = scheduler.step_index if getattr(scheduler, "step_index", None) is not None else 0
            sigma = float(sigmas[index])  # the level the scheduler's own update assumes
        else:
            a2 = float(alphas_cumprod[int(t)])
            sigma = math.sqrt((1 - a2) / a2)
        a = 1 / math.sqrt(1 + sigma * sigma)
        x0 = problem.mixture.posterior_mean(model_in.to(torch.float64), a, sigma * a)
        eps = (model_in.to(torch.float64) - a * x0) / (sigma * a)
        calls += 1
        latents = scheduler.step(eps.to(latents.dtype), t, latents).prev_sample
    return calls, rms_error(latents, problem.reference)


__all__ = [
    "KDIFFUSION_SAMPLERS",
    "diffusers_configs",
    "kdiffusion_sampling",
    "kdiffusion_version",
    "run_diffusers",
    "run_kdiffusion",
]
