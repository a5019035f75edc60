"""pluggy hook specifications of the "gdf" project: how a plugin contributes components.

A plugin is a module (listed in the "gdf" entry-point group) with functions
decorated by ``gdf_core.hookimpl`` and named as below. Each component hook
returns a class or a list of classes; each class has ``name`` (its registry
name) as a class attribute.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("gdf")
hookimpl = pluggy.HookimplMarker("gdf")


@hookspec
def gdf_register_schedules() -> Any:
    """Return schedule classes (t → λ) to register."""


@hookspec
def gdf_register_input_scalers() -> Any:
    """Return input scaler classes (λ → a, b) to register."""


@hookspec
def gdf_register_targets() -> Any:
    """Return target classes (what the model predicts) to register."""


@hookspec
def gdf_register_noise_conds() -> Any:
    """Return noise condition classes (λ → model input) to register."""


@hookspec
def gdf_register_loss_weights() -> Any:
    """Return loss weight classes (λ → weight) to register."""


@hookspec
def gdf_register_samplers() -> Any:
    """Return sampler classes (one step from λ to λ′) to register."""


@hookspec
def gdf_register_guidances() -> Any:
    """Return guidance classes (conditional and other predictions → the guided one) to register."""


@hookspec
def gdf_register_presets() -> Any:
    """Return a dict of preset name → GDF spec (plain data) to register."""


#: kind → the hook that registers it.
KIND_HOOKS: dict[str, str] = {
    "schedule": "gdf_register_schedules",
    "input_scaler": "gdf_register_input_scalers",
    "target": "gdf_register_targets",
    "noise_cond": "gdf_register_noise_conds",
    "loss_weight": "gdf_register_loss_weights",
    "sampler": "gdf_register_samplers",
    "guidance": "gdf_register_guidances",
}

__all__ = ["KIND_HOOKS", "hookimpl", "hookspec"]
