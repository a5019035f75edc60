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


#: The hook that registers presets (the hook of each component kind is ``gdf_core.kinds.Kind.hook``).
PRESET_HOOK = "gdf_register_presets"


def __getattr__(attr: str) -> Any:
    if attr == "KIND_HOOKS":  # defined once, in gdf_core.kinds
        from gdf_core.kinds import KIND_HOOKS

        return KIND_HOOKS
    raise AttributeError(f"module 'gdf_core.hookspecs' has no attribute {attr!r}")


__all__ = ["PRESET_HOOK", "hookimpl", "hookspec"]
