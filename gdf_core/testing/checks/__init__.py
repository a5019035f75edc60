"""One ``check_<kind>(component, ...)`` per component kind, and ``check_component`` to dispatch.

Each check runs its kind's named invariants as hypothesis tests and returns a
``CheckReport``; with ``raise_on_failure=True`` (the default) a broken
invariant raises ``InvariantError`` naming the invariant, the input
(hypothesis' shrunk example) and the values.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from gdf_core.kinds import KINDS
from gdf_core.testing.checks import guidance, input_scaler, loss_weight, noise_cond, sampler, schedule, target
from gdf_core.testing.checks._core import CheckReport, Invariant, InvariantError, InvariantResult
from gdf_core.testing.checks.guidance import check_guidance
from gdf_core.testing.checks.input_scaler import check_input_scaler
from gdf_core.testing.checks.loss_weight import check_loss_weight
from gdf_core.testing.checks.noise_cond import check_noise_cond
from gdf_core.testing.checks.sampler import check_sampler
from gdf_core.testing.checks.schedule import check_schedule
from gdf_core.testing.checks.target import check_target

#: kind → its check function.
CHECKS: dict[str, Callable[..., CheckReport]] = {
    "schedule": check_schedule,
    "input_scaler": check_input_scaler,
    "target": check_target,
    "noise_cond": check_noise_cond,
    "loss_weight": check_loss_weight,
    "sampler": check_sampler,
    "guidance": check_guidance,
}

#: kind → its invariants, in the order they run.
INVARIANTS: dict[str, tuple[Invariant, ...]] = {
    "schedule": schedule.INVARIANTS,
    "input_scaler": input_scaler.INVARIANTS,
    "target": target.INVARIANTS,
    "noise_cond": noise_cond.INVARIANTS,
    "loss_weight": loss_weight.INVARIANTS,
    "sampler": sampler.INVARIANTS,
    "guidance": guidance.INVARIANTS,
}


def kind_of(component: Any) -> str:
    """The kind of a component (instance or class): its ``kind`` attribute, else where the registry has it."""
    kind = getattr(component, "kind", None)
    if kind in KINDS or kind in CHECKS:
        return kind
    from gdf_core.registry import registry

    cls = component if isinstance(component, type) else type(component)
    reg = registry.registration_of(cls)
    if reg is not None:
        return reg.kind
    raise TypeError(
        f"cannot tell which kind of component {cls.__qualname__} is: give it a class attribute "
        f"kind (one of {', '.join(KINDS)}), register it, or call check_<kind> directly"
    )


def example_component(cls: type, kind: Optional[str] = None) -> Any:
    """An instance of a component class to check: built from its ``example_spec``, else with defaults."""
    from gdf_core.spec import build

    kind = kind or kind_of(cls)
    example = getattr(cls, "example_spec", None)
    if example is None:
        return build(kind, cls)
    from gdf_core.registry import registry
    from gdf_core.spec import _instantiate  # the class itself, whatever name it is registered under

    return _instantiate(cls, {k: v for k, v in dict(example).items() if k != "name"}, kind, registry)

def check_component(component: Any, *, kind: Optional[str] = None, **kwargs: Any) -> CheckReport:
    """Run the check of the component's kind; a class is checked through ``example_component``."""
    kind = kind or kind_of(component)
    if isinstance(component, type):
        component = example_component(component, kind)
    return CHECKS[kind](component, **kwargs)


__all__ = [
    "CHECKS",
    "INVARIANTS",
    "CheckReport",
    "Invariant",
    "InvariantError",
    "InvariantResult",
    "check_component",
    "check_guidance",
    "check_input_scaler",
    "check_loss_weight",
    "check_noise_cond",
    "check_sampler",
    "check_schedule",
    "check_target",
    "example_component",
    "kind_of",
]
