"""The small mixin every built-in component uses: parameters, spec, equality.

Convention (as in scikit-learn's estimators): every constructor parameter is
stored on the instance under its own name, so the component's spec can be read
back from it. Parameters are gathered over the class's MRO, so a base class
(e.g. the shared ``shift``/``discrete_steps`` of schedules) contributes its own.
A third-party component does not have to use this mixin: ``to_spec`` and the
registry fall back to the constructor signature.

Constructing a component checks its arguments against the domains its
signature declares (``gdf_core.domains``), as a spec does: ``CosineSchedule(s=nan)``
raises the same ``SpecError`` as ``{"name": "cosine", "s": NaN}``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable, ClassVar

import torch

from gdf_core.parameters import check_call, constructor_parameters


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_gdf_checks_domains", False):
            cls.__init__ = _checking_domains(init)  # type: ignore[method-assign]

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


def _checking_domains(init: Callable[..., None]) -> Callable[..., None]:
    """``init``, checking its arguments' domains first when it is the instance's own constructor.

    A base's ``__init__`` reached through ``super().__init__(**kwargs)`` does not
    check again: the outermost one checked every parameter, its bases' included.
    """

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Inside torch.compile'd code (a component made in a compiled step) the check is skipped:
        # dynamo cannot trace pydantic, and the same construction is checked when run eagerly.
        if type(self).__init__ is __init__ and not torch.compiler.is_compiling():
            check_call(type(self), init, args, kwargs)
        init(self, *args, **kwargs)

    __init__._gdf_checks_domains = True  # type: ignore[attr-defined]
    return __init__


__all__ = ["Component", "component_spec", "constructor_parameters", "to_plain"]
