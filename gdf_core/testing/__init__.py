"""gdf's property-testing kit: the invariants every component kind must keep, as hypothesis tests.

``check_<kind>(component)`` runs one kind's invariants (``check_component``
dispatches on the kind); ``gdf_core.testing.strategies`` has the hypothesis
strategies; the pytest plugin (``gdf_core.testing.pytest_plugin``, loaded
through the ``pytest11`` entry point) turns components into tests, and
``gdf check`` runs the suite from the command line. See docs/testing-kit.md.
"""

from gdf_core.testing import strategies
from gdf_core.testing.checks import (
    CHECKS,
    INVARIANTS,
    CheckReport,
    Invariant,
    InvariantError,
    InvariantResult,
    check_component,
    check_guidance,
    check_input_scaler,
    check_loss_weight,
    check_noise_cond,
    check_sampler,
    check_schedule,
    check_target,
    example_component,
    kind_of,
)
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian

__all__ = [
    "CHECKS",
    "INVARIANTS",
    "CheckReport",
    "ClosedFormScaler",
    "Gaussian",
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
    "strategies",
]
