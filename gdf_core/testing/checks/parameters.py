"""The invariant every kind shares about its parameters: a NaN parameter is refused at construction.

gdf checks the domains a component declares (``gdf_core.domains``); a number
parameter that declares none accepts NaN, and a NaN parameter turns every
output into NaN far from where it was given. This check builds the
component's class again with its own parameters and NaN for one number
parameter at a time: the constructor must raise (a ``SpecError``, or any
``ValueError``/``TypeError``). A component without number parameters holds it trivially.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from gdf_core.testing.checks._core import Invariant, Violation


def number_parameters(cls: type) -> list[str]:
    """The parameters of ``cls`` that take numbers: declared as such, or with a number as default."""
    from gdf_core.domains import domain_of
    from gdf_core.parameters import component_fields

    names = []
    for pname, (annotation, default, nested, _) in component_fields(cls).items():
        if nested is not None:
            continue
        numeric_default = isinstance(default, (int, float)) and not isinstance(default, bool)
        domain = domain_of(annotation)
        takes_number = domain.numeric or (domain.base == "union" and any(item.numeric for item in domain.items))
        if takes_number or (domain.base == "any" and numeric_default):
            names.append(pname)
    return names


def _current_parameters(component: Any) -> dict[str, Any]:
    from gdf_core.parameters import constructor_parameters

    return {p: getattr(component, p) for p in constructor_parameters(type(component)) if hasattr(component, p)}


def refuses_nan_parameters(component: Any, options: Mapping[str, Any]) -> None:
    cls = type(component)
    accepted = []
    for pname in number_parameters(cls):
        try:
            cls(**{**_current_parameters(component), pname: math.nan})
        except (ValueError, TypeError):
            continue
        accepted.append(pname)
    if accepted:
        raise Violation(
            f"{cls.__qualname__} accepts NaN for {', '.join(map(repr, accepted))}: declare each parameter's domain "
            "in the constructor's signature, e.g. `s: gdf_core.domains.Finite` or `Annotated[float, Field(gt=0)]`"
        )


REFUSES_NAN = Invariant(
    "refuses_nan_parameters",
    "constructing it with NaN for any number parameter raises (its domain is declared)",
    refuses_nan_parameters,
    examples_cap=1,
)

__all__ = ["REFUSES_NAN", "number_parameters", "refuses_nan_parameters"]
