"""Declarative specs: plain data (dict, JSON, YAML, TOML, a preset name) → components.

A component spec is a registry name or ``{"name": ..., **params}``. Parameters
are validated by a pydantic model derived from the component's constructor
signature (``extra="forbid"``); a parameter typed with a component protocol
takes a nested spec. Every failure is one ``SpecError`` whose message starts
with the path of the offending value (``loss_weight.p2.gama: ...``).
A spec never imports code by module path: names resolve through the registry.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
import typing
from pathlib import Path
from typing import Any, Optional, Union

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from gdf_core.component import component_spec, constructor_parameters
from gdf_core.errors import SpecError, did_you_mean
from gdf_core.protocols import KINDS, PROTOCOLS
from gdf_core.registry import Registry, registry as default_registry

try:  # Python ≥ 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

ComponentSpec = Union[str, dict[str, Any]]

#: The top-level keys of a GDF spec that hold components, with their kinds.
GDF_COMPONENTS: dict[str, str] = {
    "schedule": "schedule",
    "input_scaler": "input_scaler",
    "target": "target",
    "noise_cond": "noise_cond",
    "loss_weight": "loss_weight",
    "sampler": "sampler",
    "sample_schedule": "schedule",
    "guidance": "guidance",
}


class GDFSpec(BaseModel):
    """The shape of a whole GDF spec (after a preset is applied)."""

    model_config = ConfigDict(extra="forbid")

    schedule: ComponentSpec
    input_scaler: ComponentSpec
    target: ComponentSpec
    noise_cond: ComponentSpec
    loss_weight: ComponentSpec
    offset_noise: float = 0.0
    sampler: Optional[ComponentSpec] = Field(default=None, description="default sampler of sample()")
    sample_schedule: Optional[ComponentSpec] = Field(
        default=None, description="default schedule of sample() (the training schedule if unset)"
    )
    guidance: Optional[ComponentSpec] = Field(
        default=None, description="default guidance of sample() (the cfg arguments of sample() if unset)"
    )
    limits: Optional[dict[str, Any]] = Field(
        default=None, description="setup_limits(**limits) after building (limits stretching)"
    )
    shift: Optional[Union[float, dict[str, Any]]] = Field(
        default=None, description="the GDF's shift (a number > 0 or {name: resolution, ...}), read by diffuse and sample"
    )


# -- parameters of one component -------------------------------------------------
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
            hints.update(typing.get_type_hints(init))
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


@functools.lru_cache(maxsize=None)
def parameters_model(cls: type) -> type[BaseModel]:
    """The pydantic model of ``cls``'s constructor parameters (``extra="forbid"``)."""
    definitions = {pname: (ann, default) for pname, (ann, default, _, _) in component_fields(cls).items()}
    return pydantic.create_model(  # type: ignore[call-overload,no-any-return]
        f"{cls.__name__}Parameters",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **definitions,
    )


def _format_validation_error(exc: pydantic.ValidationError, cls: type, path: str) -> SpecError:
    problems = []
    first_loc = ""
    params = list(component_fields(cls))
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        first_loc = first_loc or loc
        if err["type"] == "extra_forbidden":
            problems.append(
                f"unexpected parameter {loc!r}{did_you_mean(loc, params) or '.'} "
                f"{_name_of(cls)} takes: {', '.join(params) or 'no parameters'}"
            )
        elif err["type"] == "missing":
            problems.append(f"missing required parameter {loc!r}")
        else:
            problems.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    where = f"{path}.{first_loc}" if len(problems) == 1 and first_loc else path
    if len(problems) == 1 and first_loc:
        problems = [problems[0].removeprefix(f"{first_loc}: ")]
    return SpecError("; ".join(problems), path=where)


def _name_of(cls: type) -> str:
    return str(getattr(cls, "name", cls.__name__))


def _plain_spec(spec: Any, kind: str, path: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict):
        name = spec.get("name")
        if not isinstance(name, str):
            raise SpecError(
                f"a {kind} spec needs a 'name' (a registered {kind} name); got {spec!r}", path=path
            )
        return name, {k: v for k, v in spec.items() if k != "name"}
    raise SpecError(
        f"expected a {kind}: a name, a {{'name': ..., **params}} dict, a class or an instance; "
        f"got {type(spec).__name__} {spec!r}",
        path=path,
    )


def build(
    kind: str,
    spec: Any,
    *,
    path: Optional[str] = None,
    registry: Optional[Registry] = None,
) -> Any:
    """Build one component of ``kind`` from a spec, a class or an instance (returned as is)."""
    reg = registry or default_registry
    if kind not in KINDS:
        raise SpecError(f"unknown component kind {kind!r}{did_you_mean(kind, KINDS) or '.'} Kinds: {', '.join(KINDS)}")
    path = path or kind
    protocol = PROTOCOLS[kind]
    if isinstance(spec, type):
        spec_cls = spec
        if getattr(spec_cls, "kind", kind) != kind:
            raise SpecError(f"{spec_cls.__qualname__} is a {getattr(spec_cls, 'kind')}, not a {kind}", path=path)
        return _instantiate(spec_cls, {}, path, reg)
    if not isinstance(spec, (str, dict)):
        if getattr(type(spec), "kind", kind) != kind or not isinstance(spec, protocol):
            raise SpecError(
                f"expected a {kind}; got {type(spec).__name__} {spec!r}, which is not one", path=path
            )
        return spec
    name, params = _plain_spec(spec, kind, path)
    cls = reg.get(kind, name, path=path)
    return _instantiate(cls, params, f"{path}.{name}" if params else path, reg)


def _instantiate(cls: type, params: dict[str, Any], path: str, reg: Registry) -> Any:
    try:
        validated = parameters_model(cls).model_validate(params)
    except pydantic.ValidationError as exc:
        raise _format_validation_error(exc, cls, path) from None
    # Only what the user gave is passed on: defaults stay the constructor's own.
    values = {k: getattr(validated, k) for k in params}
    for pname, (_, _, nested, _) in component_fields(cls).items():
        if nested is None or pname not in values:
            continue
        value = values[pname]
        if isinstance(value, (list, tuple)):
            values[pname] = [build(nested, v, path=f"{path}.{pname}[{i}]", registry=reg) for i, v in enumerate(value)]
        else:
            values[pname] = build(nested, value, path=f"{path}.{pname}", registry=reg)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{_name_of(cls)} rejected its parameters: {exc}", path=path) from None


# -- whole GDF specs ---------------------------------------------------------------
def _looks_like_name(text: str) -> bool:
    return text.replace("_", "").replace("-", "").isalnum()


def load_spec(source: Any, *, registry: Optional[Registry] = None) -> dict[str, Any]:
    """Plain data of a GDF spec from a dict, a preset name, a file, or JSON/YAML/TOML text.

    The preset and its overrides are merged; the input is never modified.
    """
    reg = registry or default_registry
    if isinstance(source, BaseModel):
        source = source.model_dump(exclude_none=True)
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and os.path.isfile(source)):
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"no such spec file: {str(path)!r}")
        data = _parse_text(path.read_text(), path.suffix.lower(), where=str(path))
    elif isinstance(source, str):
        stripped = source.strip()
        data = {"preset": stripped} if _looks_like_name(stripped) else _parse_text(stripped, "", where="spec text")
    elif isinstance(source, dict):
        data = copy.deepcopy(source)
    else:
        raise SpecError(
            f"a GDF spec is a dict, a preset name, a file path or JSON/YAML/TOML text; got {type(source).__name__}"
        )
    if not isinstance(data, dict):
        raise SpecError(f"a GDF spec must be a mapping of component kinds to specs; got {type(data).__name__} {data!r}")
    return _apply_preset(data, reg, depth=0)


def _parse_text(text: str, suffix: str, *, where: str) -> Any:
    parsers = {".json": _json, ".yaml": _yaml, ".yml": _yaml, ".toml": _toml}
    if suffix in parsers:
        return parsers[suffix](text, where)
    if text.lstrip().startswith("{"):
        return _json(text, where)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return _yaml(text, where)


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"invalid JSON in {where}: {exc}") from None


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML in {where}: {exc}") from None


def _toml(text: str, where: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML in {where}: {exc}") from None


def _apply_preset(data: dict[str, Any], reg: Registry, depth: int) -> dict[str, Any]:
    if "preset" not in data:
        return data
    name = data["preset"]
    if not isinstance(name, str):
        raise SpecError(f"a preset is given by name; got {name!r}", path="preset")
    if depth > 8:
        raise SpecError(f"presets refer to each other in a loop at {name!r}", path="preset")
    base = _apply_preset(copy.deepcopy(reg.preset(name, path="preset")), reg, depth + 1)
    overrides = {k: v for k, v in data.items() if k != "preset"}
    return {**base, **copy.deepcopy(overrides)}


def validate_spec(source: Any, *, registry: Optional[Registry] = None) -> dict[str, Any]:
    """The plain data of a GDF spec, checked in shape (component specs are checked by ``build``)."""
    data = load_spec(source, registry=registry)
    try:
        GDFSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise SpecError(
                f"unknown key {key!r}{did_you_mean(key, GDFSpec.model_fields) or '.'} "
                f"A GDF spec has: preset, {', '.join(GDFSpec.model_fields)}",
                path=key,
            ) from None
        if err["type"] == "missing":
            raise SpecError(f"missing {key!r}: a GDF spec needs {', '.join(list(GDF_COMPONENTS)[:5])}", path=key) from None
        raise SpecError(f"{err['msg']} (got {err.get('input')!r})", path=key) from None
    return data


def spec_of(component: Any) -> ComponentSpec:
    """The spec of a component instance (what ``build`` turns back into an equal one)."""
    to_spec = getattr(component, "to_spec", None)
    return to_spec() if callable(to_spec) else component_spec(component)


__all__ = [
    "ComponentSpec",
    "GDFSpec",
    "build",
    "component_fields",
    "load_spec",
    "parameters_model",
    "spec_of",
    "validate_spec",
]


def json_schema(registry: Optional[Registry] = None) -> dict[str, Any]:
    """The JSON Schema of a GDF spec covering every installed component (see ``gdf_core.schema``)."""
    from gdf_core.schema import json_schema as _json_schema  # imported here: schema.py imports this module

    return _json_schema(registry)


__all__ += ["json_schema"]
