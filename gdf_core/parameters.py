"""A component's parameters as a pydantic model, derived from its constructor signature.

The type hints of ``__init__`` (over the MRO, as far as ``**kwargs`` is
forwarded) are the parameters' domains (``gdf_core.domains``). A parameter typed
with a component protocol takes a nested spec. The same model checks a spec
(``gdf_core.spec.build``) and a direct construction (``Component``), so that
``CosineSchedule(s=float("nan"))`` and ``{"name": "cosine", "s": NaN}`` are
refused with the same ``SpecError``: the path, the value, the allowed domain.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any, Optional, Union

import pydantic
from pydantic import BaseModel, ConfigDict

from gdf_core.domains import describe, refusing_bools
from gdf_core.errors import SpecError, SpecIssue, did_you_mean, excerpt
from gdf_core.kinds import PROTOCOLS


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """Named constructor parameters of ``cls`` and of the bases its ``__init__`` forwards to.

    Names listed in the class attribute ``spec_exclude`` (e.g. the original
    samplers' ``gdf`` argument) are not parameters of the spec. Read once per
    class (``inspect.signature`` is slow; ``to_spec`` asks on every run).
    """
    return dict(_constructor_parameters(cls))


@functools.lru_cache(maxsize=None)
def _constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
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


def nested_kind(annotation: Any) -> tuple[Optional[str], bool]:
    """(kind, is_list) when ``annotation`` mentions a component protocol, else (None, False)."""
    by_protocol = {proto: kind for kind, proto in PROTOCOLS.items()}
    if annotation in by_protocol:
        return by_protocol[annotation], False
    kind, is_list = None, False
    for arg in typing.get_args(annotation):
        sub_kind, _ = nested_kind(arg)
        if sub_kind is not None:
            kind = sub_kind
            origin = typing.get_origin(arg)
            if origin is not None and origin is not Union:
                is_list = True
    origin = typing.get_origin(annotation)
    if kind is not None and origin is not None and origin is not Union and origin is not typing.Optional:
        is_list = True
    return kind, is_list


def _hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints.update(typing.get_type_hints(init, include_extras=True))
        except Exception:  # unresolvable hints: the parameter is taken as Any
            pass
    return hints


def _usable(annotation: Any) -> Any:
    try:
        pydantic.TypeAdapter(annotation)
    except Exception:
        return Any
    return annotation


@functools.lru_cache(maxsize=None)
def component_fields(cls: type) -> dict[str, tuple[Any, Any, Optional[str], bool]]:
    """name → (annotation, default, nested kind, nested is list) for ``cls``'s parameters."""
    hints = _hints(cls)
    fields = {}
    for pname, param in constructor_parameters(cls).items():
        annotation = hints.get(pname, Any)
        kind, is_list = nested_kind(annotation)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (Any if kind else _usable(annotation), default, kind, is_list)
    return fields


class Parameters(BaseModel):
    """Base of every component's parameters model."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class OrderedParameters(Parameters):
    """Base of the parameters model of a class with ``ordered_parameters``, checked after the fields.

    A component class declares ``ordered_parameters = (("sigma_min", "sigma_max"),)``
    for parameters whose values must increase (each pair: first < second).
    """

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> "OrderedParameters":
        for low, high in getattr(type(self), "gdf_ordered_parameters", ()):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and not lo < hi:
                raise ValueError(f"{low} must be less than {high}; got {low}={lo!r} and {high}={hi!r}")
        return self


@functools.lru_cache(maxsize=None)
def parameters_model(cls: type) -> type[BaseModel]:
    """The pydantic model of ``cls``'s constructor parameters (``extra="forbid"``, domains from the hints)."""
    definitions = {
        pname: (refusing_bools(ann), default) for pname, (ann, default, _, _) in component_fields(cls).items()
    }
    ordered = tuple(pair for pair in getattr(cls, "ordered_parameters", ()) if set(pair) <= set(definitions))
    model = pydantic.create_model(  # type: ignore[call-overload]
        f"{cls.__name__}Parameters", __base__=OrderedParameters if ordered else Parameters, **definitions
    )
    model.gdf_ordered_parameters = ordered
    return model  # type: ignore[no-any-return]


def name_of(cls: type) -> str:
    return str(getattr(cls, "name", cls.__name__))


def _pydantic_message(err: Any) -> str:
    """pydantic's message for one error, without its "Value error, " prefix."""
    message = str(err["msg"]).removeprefix("Value error, ")
    return message


def _problem(err: Any, cls: type, params: list[str], values: Optional[dict[str, Any]] = None) -> tuple[str, str]:
    """(parameter, what is wrong with it) for one pydantic error."""
    loc = [str(p) for p in err["loc"]]
    pname = loc[0] if loc else ""
    if err["type"] == "extra_forbidden":
        return pname, (
            f"unexpected parameter {pname!r}{did_you_mean(pname, params) or '.'} "
            f"{name_of(cls)} takes: {', '.join(params) or 'no parameters'}"
        )
    if err["type"] == "missing" and len(loc) == 1:
        return pname, f"missing required parameter {pname!r}"
    message = _pydantic_message(err)
    element = [str(p) for p in err["loc"][1:] if isinstance(p, int)]  # positions; not pydantic's union branch tags
    where = f" (element {'.'.join(element)})" if element else ""
    if not pname:  # a check across parameters (ordered_parameters)
        return "", message
    annotation = component_fields(cls).get(pname, (Any,))[0]
    allowed = describe(annotation)
    domain = f"; allowed: {allowed}" if allowed != "any value" else ""
    value = err.get("input")
    if len(loc) > 1 and values is not None and pname in values:
        value = values[pname]  # the whole parameter, not only its offending element
    return pname, f"{message}{where}; got {excerpt(value)}{domain}"


def spec_error(
    exc: pydantic.ValidationError,
    cls: type,
    path: str,
    *,
    skip_missing: bool = False,
    values: Optional[dict[str, Any]] = None,
) -> Optional[SpecError]:
    """One ``SpecError`` listing every problem of ``exc`` (each under ``path.parameter``)."""
    params = list(component_fields(cls))
    issues: list[SpecIssue] = []
    seen: set[str] = set()
    for err in exc.errors():
        if skip_missing and err["type"] == "missing" and len(err["loc"]) == 1:
            continue
        pname, problem = _problem(err, cls, params, values)
        if pname in seen and err["type"] not in ("extra_forbidden", "missing"):
            continue  # one issue per parameter (a union reports each of its branches)
        seen.add(pname)
        where = f"{path}.{pname}" if pname else path
        issues.append(SpecIssue(where, problem))
    if not issues:
        return None
    return SpecError(issues[0].problem, path=issues[0].path, issues=issues)


def validate_parameters(cls: type, values: dict[str, Any], path: str) -> dict[str, Any]:
    """``values`` checked against ``cls``'s declared domains; the validated values of the keys given."""
    try:
        validated = parameters_model(cls).model_validate(values)
    except pydantic.ValidationError as exc:
        raise spec_error(exc, cls, path, values=values) from None  # type: ignore[misc]
    return {k: getattr(validated, k) for k in values}


@functools.lru_cache(maxsize=None)
def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(refusing_bools(annotation))


def validate_value(path: str, value: Any, annotation: Any) -> Any:
    """``value`` validated against a domain (an annotation or a pydantic model); a ``SpecError`` at ``path`` if outside."""
    try:
        return _adapter(annotation).validate_python(value)
    except pydantic.ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            where = ".".join([path, *loc])
            message = _pydantic_message(err)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel) and loc:
                field = annotation.model_fields.get(loc[0])
                allowed = describe(field.annotation) if field is not None else "any value"
                if field is not None and field.metadata:
                    allowed = describe(typing.Annotated[(field.annotation, *field.metadata)])
            else:
                allowed = describe(annotation)
            domain = f"; allowed: {allowed}" if allowed != "any value" else ""
            issues.append(SpecIssue(where, f"{message}; got {excerpt(err.get('input'))}{domain}"))
        raise SpecError(issues[0].problem, path=issues[0].path, issues=issues) from None


@functools.lru_cache(maxsize=None)
def _positional_names(init: Any) -> tuple[str, ...]:
    """The names ``init`` binds positional arguments to, after ``self``."""
    params = list(inspect.signature(init).parameters.values())[1:]
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def check_call(cls: type, init: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check a direct ``cls(*args, **kwargs)`` against the declared domains (the constructor runs after).

    Arguments that do not bind, unknown or missing ones, are left to Python's
    own ``TypeError`` from the constructor.
    """
    positional = _positional_names(init)
    if len(args) > len(positional) or any(name in kwargs for name in positional[: len(args)]):
        return
    fields = component_fields(cls)
    values = {k: v for k, v in (*zip(positional, args), *kwargs.items()) if k in fields and fields[k][2] is None}
    if not values:
        return
    try:
        parameters_model(cls).model_validate(values)
    except pydantic.ValidationError as exc:
        kind = getattr(cls, "kind", None)
        error = spec_error(exc, cls, f"{kind}.{name_of(cls)}" if kind else name_of(cls), skip_missing=True, values=values)
        if error is not None:
            raise error from None


__all__ = [
    "check_call",
    "component_fields",
    "constructor_parameters",
    "name_of",
    "nested_kind",
    "parameters_model",
    "spec_error",
    "validate_parameters",
    "validate_value",
]
