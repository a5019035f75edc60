"""The small mixin every built-in component uses: parameters, spec, equality.

Convention (as in scikit-learn's estimators): every constructor parameter is
stored on the instance under its own name, so the component's spec can be read
back from it. Parameters are gathered over the class's MRO, so a base class
(e.g. the shared ``shift``/``discrete_steps`` of schedules) contributes its own.
A third-party component does not have to use this mixin: ``to_spec`` and the
registry fall back to the constructor signature.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, ClassVar

import torch


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """Named constructor parameters of ``cls`` and of the bases its ``__init__`` forwards to.

    Names listed in the class attribute ``spec_exclude`` (e.g. the original
    samplers' ``gdf`` argument) are not parameters of the spec.
    """
    excluded = set(getattr(cls, "spec_exclude", ()))
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        signature = inspect.signature(init)
        for p in list(signature.parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in excluded:
                continue
            params.setdefault(p.name, p)
        # Stop at the first __init__ that does not forward **kwargs upwards.
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    return params


def to_plain(value: Any) -> Any:
    """A parameter value as plain data (JSON-able): components become specs."""
    if hasattr(value, "to_spec") and hasattr(type(value), "name"):
        return value.to_spec()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def component_spec(component: Any) -> str | dict[str, Any]:
    """The spec of any component: its name, or ``{"name": ..., **non-default params}``.

    The name is qualified (``distribution:name``) where two distributions register it.
    """
    cls = type(component)
    name = importlib.import_module("gdf_core.registry").registry.spec_name(cls)  # at call time: no import cycle
    spec: dict[str, Any] = {"name": name}
    for pname, param in constructor_parameters(cls).items():
        if not hasattr(component, pname):
            raise TypeError(
                f"{cls.__name__} takes the parameter {pname!r} but does not store it as "
                f"self.{pname}; gdf reads a component's spec back from its attributes"
            )
        value = to_plain(getattr(component, pname))
        if param.default is not inspect.Parameter.empty and value == to_plain(param.default):
            continue
        spec[pname] = value
    return spec if len(spec) > 1 else name


class Component:
    """Mixin for components: ``kind``/``name`` class attributes, ``params``, ``to_spec``, ``==``."""

    kind: ClassVar[str]
    name: ClassVar[str]

    @property
    def params(self) -> dict[str, Any]:
        """Every constructor parameter with its current value."""
        return {p: getattr(self, p) for p in constructor_parameters(type(self))}

    def to_spec(self) -> str | dict[str, Any]:
        """Plain data that ``gdf_core.build(kind, spec)`` turns back into an equal component."""
        return component_spec(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_spec() == other.to_spec()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), repr(self.to_spec())))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={to_plain(v)!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({shown})"


__all__ = ["Component", "component_spec", "constructor_parameters", "to_plain"]
