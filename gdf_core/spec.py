"""Declarative specs: plain data (dict, JSON, YAML, TOML, a preset name) → components.

A component spec is a registry name or ``{"name": ..., **params}``. Parameters
are validated by a pydantic model derived from the component's constructor
signature (``extra="forbid"``, the domains its type hints declare:
``gdf_core.parameters``); a parameter typed with a component protocol takes a
nested spec. A spec is checked whole: one ``SpecError`` lists every problem,
each with the path of the offending value (``loss_weight.p2.gama: ...``).
A spec never imports code by module path: names resolve through the registry.

Loading is bounded: a string is a file only if it ends in .json, .yaml, .yml or
.toml (or is a ``pathlib.Path``); files and texts are at most ``MAX_SPEC_BYTES``,
nesting at most ``MAX_DEPTH`` levels, ``MAX_VALUES`` values in all; an error
quotes at most a short escaped excerpt of what it read.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional, Union

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from gdf_core.component import component_spec
from gdf_core.domains import SHIFT_RANGE, NonNegative, Positive, ShiftFactor, refusing_bools
from gdf_core.errors import SpecError, SpecIssue, did_you_mean, excerpt
from gdf_core.kinds import GDF_PARTS, KIND_RECORDS, KINDS, PROTOCOLS
from gdf_core.parameters import component_fields, name_of, parameters_model, spec_error
from gdf_core.registry import Registry, registry as default_registry

try:  # Python ≥ 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

ComponentSpec = Union[str, dict[str, Any]]

#: The file suffixes that make a string a spec file.
SPEC_SUFFIXES: tuple[str, ...] = (".json", ".yaml", ".yml", ".toml")
#: The largest spec file or text read.
MAX_SPEC_BYTES = 1 << 20
#: The deepest nesting of a spec's plain data.
MAX_DEPTH = 32
#: The most values (dict entries, list items, scalars) in a spec's plain data.
MAX_VALUES = 100_000
#: The longest string in a spec.
MAX_STRING = 10_000

#: The top-level keys of a GDF spec that hold components, with their kinds.
GDF_COMPONENTS: dict[str, str] = {**{kind: kind for kind in KINDS}, "sample_schedule": "schedule"}


class LimitsSpec(BaseModel):
    """The arguments of ``GDF.setup_limits`` (a spec's ``limits``)."""

    model_config = ConfigDict(extra="forbid")

    stretch_max: bool = Field(True, description="stretch a, b so that t = 1 is exactly pure noise")
    stretch_min: bool = Field(True, description="stretch a, b so that t = 0 is exactly clean data")
    shift: refusing_bools(Positive) = Field(1.0, description="the schedule's shift the limits are measured at")  # type: ignore[valid-type]


def _gdf_spec_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for k in KIND_RECORDS:
        if k.required_in_spec:
            fields[k.name] = (ComponentSpec, Field(..., description=f"the {k.name}"))
    fields["offset_noise"] = (refusing_bools(NonNegative), Field(0.0, description="std of per-channel offset noise added to ε"))
    for k in KIND_RECORDS:
        if not k.required_in_spec:
            fields[k.name] = (Optional[ComponentSpec], Field(None, description=f"default {k.name} of sample()"))
    fields["sample_schedule"] = (
        Optional[ComponentSpec],
        Field(None, description="default schedule of sample() (the training schedule if unset)"),
    )
    fields["limits"] = (
        Optional[LimitsSpec],
        Field(None, description="setup_limits(**limits) after building (limits stretching)"),
    )
    fields["shift"] = (
        Optional[Union[refusing_bools(ShiftFactor), dict[str, Any]]],
        Field(None, description="the GDF's shift (a number in [1e-6, 1e6] or {name: resolution, ...}), read by diffuse and sample"),
    )
    return fields


#: The shape of a whole GDF spec (after a preset is applied): one key per kind, from ``gdf_core.kinds``.
GDFSpec: type[BaseModel] = pydantic.create_model(  # type: ignore[call-overload]
    "GDFSpec", __config__=ConfigDict(extra="forbid"), __doc__="The shape of a whole GDF spec.", **_gdf_spec_fields()
)


# -- one component ------------------------------------------------------------------
def _plain_spec(spec: Any, kind: str, path: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict):
        name = spec.get("name")
        if not isinstance(name, str):
            raise SpecError(
                f"a {kind} spec needs a 'name' (a registered {kind} name); got {excerpt(spec)}", path=path
            )
        return name, {k: v for k, v in spec.items() if k != "name"}
    raise SpecError(
        f"expected a {kind}: a name, a {{'name': ..., **params}} dict, a class or an instance; "
        f"got {type(spec).__name__} {excerpt(spec)}",
        path=path,
    )


def build(
    kind: str,
    spec: Any,
    *,
    path: Optional[str] = None,
    registry: Optional[Registry] = None,
) -> Any:
    """Build one component of ``kind`` from a spec, a class or an instance (returned as is).

    Every problem of the spec and of its nested specs is reported at once, in one ``SpecError``.
    """
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
                f"expected a {kind}; got {type(spec).__name__} {excerpt(spec)}, which is not one", path=path
            )
        return spec
    name, params = _plain_spec(spec, kind, path)
    cls = reg.get(kind, name, path=path)
    return _instantiate(cls, params, f"{path}.{name}" if params else path, reg)


def _instantiate(cls: type, params: dict[str, Any], path: str, reg: Registry) -> Any:
    errors: list[SpecError] = []
    fields = component_fields(cls)
    nested = {p: f for p, f in fields.items() if f[2] is not None and p in params}
    try:
        validated = parameters_model(cls).model_validate(params)
        values = {k: getattr(validated, k) for k in params}  # only what the user gave: defaults stay the constructor's
    except pydantic.ValidationError as exc:
        errors.append(spec_error(exc, cls, path, values=params))  # type: ignore[arg-type]
        values = {}
    for pname, (_, _, kind, _) in nested.items():
        value = params[pname]
        try:
            if isinstance(value, (list, tuple)):
                values[pname] = [
                    _collecting(errors, build, kind, v, path=f"{path}.{pname}[{i}]", registry=reg) for i, v in enumerate(value)
                ]
            else:
                values[pname] = build(kind, value, path=f"{path}.{pname}", registry=reg)  # type: ignore[arg-type]
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecError.combine(errors)
    try:
        return cls(**values)
    except SpecError:
        raise
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name_of(cls)} rejected its parameters: {exc}", path=path) from None


def _collecting(errors: list[SpecError], function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, or None with its SpecError appended to ``errors``."""
    try:
        return function(*args, **kwargs)
    except SpecError as exc:
        errors.append(exc)
        return None


# -- loading -----------------------------------------------------------------------
def _looks_like_name(text: str) -> bool:
    return bool(text) and text.replace("_", "").replace("-", "").replace(":", "").replace(".", "").isalnum()


def is_spec_file(source: Any) -> bool:
    """Whether ``source`` names a spec file: a Path, or a one-line string ending in a spec suffix."""
    if isinstance(source, Path):
        return True
    return isinstance(source, str) and "\n" not in source and source.strip().lower().endswith(SPEC_SUFFIXES)


def load_spec(source: Any, *, registry: Optional[Registry] = None) -> dict[str, Any]:
    """Plain data of a GDF spec from a dict, a preset name, a file, or JSON/YAML/TOML text.

    The preset and its overrides are merged; the input is never modified.
    """
    reg = registry or default_registry
    if isinstance(source, BaseModel):
        source = source.model_dump(exclude_none=True)
    if is_spec_file(source):
        path = Path(source.strip() if isinstance(source, str) else source)
        data = read_spec_file(path)
        if not isinstance(data, dict):  # what a file holds is not quoted
            raise SpecError(
                f"the spec file {excerpt(str(path), 200)} must hold a mapping of component kinds to specs; "
                f"it holds {'nothing' if data is None else 'a ' + type(data).__name__}"
            )
    elif isinstance(source, str):
        stripped = source.strip()
        if _looks_like_name(stripped):
            data = {"preset": stripped}
        else:
            if len(source.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
                raise SpecError(f"the spec text is longer than {MAX_SPEC_BYTES} bytes")
            data = _parse_text(stripped, "", where="the spec text")
            if not isinstance(data, dict) and "\n" not in stripped and ("/" in stripped or "\\" in stripped):
                raise SpecError(
                    f"{excerpt(stripped)} is not a preset name or spec text; a spec file is read only when its name "
                    f"ends in {', '.join(SPEC_SUFFIXES)}, or when it is given as a pathlib.Path"
                )
    elif isinstance(source, dict):
        check_bounds(source, where="the spec")
        data = copy.deepcopy(source)
    else:
        raise SpecError(
            f"a GDF spec is a dict, a preset name, a file path or JSON/YAML/TOML text; got {type(source).__name__}"
        )
    if not isinstance(data, dict):
        raise SpecError(
            f"a GDF spec must be a mapping of component kinds to specs; got {type(data).__name__} {excerpt(data)}"
        )
    return _apply_preset(data, reg, depth=0)


def read_spec_file(path: Path) -> Any:
    """The plain data of a spec file: its suffix picks the parser (the content does, for other names)."""
    shown = excerpt(str(path), 200)
    try:
        if not path.exists():
            raise SpecError(f"no such spec file: {shown}")
        if path.is_dir():
            raise SpecError(f"{shown} is a directory, not a spec file")
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(f"the spec file {shown} is {size} bytes; a spec file is at most {MAX_SPEC_BYTES} bytes")
        raw = path.read_bytes()[: MAX_SPEC_BYTES + 1]
    except OSError as exc:
        raise SpecError(f"cannot read the spec file {shown}: {exc.strerror or type(exc).__name__}") from None
    if b"\x00" in raw:
        raise SpecError(f"the spec file {shown} is binary, not JSON, YAML or TOML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"the spec file {shown} is not UTF-8 text (binary content?): undecodable byte at position {exc.start}"
        ) from None
    return _parse_text(text, path.suffix.lower(), where=f"the spec file {shown}")


def _parse_text(text: str, suffix: str, *, where: str) -> Any:
    parsers = {".json": _json, ".yaml": _yaml, ".yml": _yaml, ".toml": _toml}
    if suffix in parsers:
        data = parsers[suffix](text, where)
    elif text.lstrip().startswith(("{", "[")):
        data = _json(text, where)
    else:
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError):
            data = _yaml(text, where)
    check_bounds(data, where=where)
    return data


def _line(text: str, lineno: int) -> str:
    lines = text.splitlines()
    return f" near {excerpt(lines[lineno - 1].strip())}" if 0 < lineno <= len(lines) and lines[lineno - 1].strip() else ""


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"invalid JSON in {where} at line {exc.lineno}, column {exc.colno}: {exc.msg}{_line(text, exc.lineno)}"
        ) from None
    except RecursionError:
        raise SpecError(f"{where} is nested more than {MAX_DEPTH} levels deep") from None


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "cannot be parsed"
        line = _line(text, mark.line + 1) if mark is not None else ""
        raise SpecError(f"invalid YAML in {where}{at}: {problem}{line}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML in {where}: {excerpt(str(exc), 200)}") from None
    except RecursionError:
        raise SpecError(f"{where} is nested more than {MAX_DEPTH} levels deep") from None


def _toml(text: str, where: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML in {where}: {exc}") from None
    except RecursionError:
        raise SpecError(f"{where} is nested more than {MAX_DEPTH} levels deep") from None


def check_bounds(data: Any, *, where: str) -> None:
    """Refuse plain data nested deeper than ``MAX_DEPTH``, with more than ``MAX_VALUES`` values or huge strings.

    Walks without recursion, so neither deep nor self-referencing (YAML anchors) data can exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise SpecError(f"{where} has more than {MAX_VALUES} values (or refers to itself)")
        if depth > MAX_DEPTH:
            raise SpecError(f"{where} is nested more than {MAX_DEPTH} levels deep (or refers to itself)")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise SpecError(f"{where} has a string of {len(value)} characters; at most {MAX_STRING} are read")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value.keys())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def _apply_preset(data: dict[str, Any], reg: Registry, depth: int) -> dict[str, Any]:
    if "preset" not in data:
        return data
    name = data["preset"]
    if not isinstance(name, str):
        raise SpecError(f"a preset is given by name; got {excerpt(name)}", path="preset")
    if depth > 8:
        raise SpecError(f"presets refer to each other in a loop at {excerpt(name)}", path="preset")
    base = _apply_preset(reg.preset(name, path="preset"), reg, depth + 1)
    overrides = {k: v for k, v in data.items() if k != "preset"}
    return {**base, **copy.deepcopy(overrides)}


# -- whole GDF specs -----------------------------------------------------------------
def _shape_issues(data: dict[str, Any]) -> tuple[list[SpecIssue], set[str]]:
    """Problems of the spec's shape (unknown or missing keys, wrong types) and the keys they concern."""
    try:
        GDFSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        issues, bad = [], set()
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            top = str(err["loc"][0]) if err["loc"] else ""
            if top in bad and (top in GDF_COMPONENTS or top == "shift"):
                continue  # a union (str or dict, number or dict) reports each of its branches
            bad.add(top)
            if err["type"] == "extra_forbidden" and top == "limits" and len(err["loc"]) == 2:
                arg = str(err["loc"][1])
                problem = (
                    f"unknown setup_limits argument {arg!r}{did_you_mean(arg, LimitsSpec.model_fields) or '.'} "
                    f"setup_limits takes: {', '.join(LimitsSpec.model_fields)}"
                )
            elif err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                problem = (
                    f"unknown key {key!r}{did_you_mean(key, GDFSpec.model_fields) or '.'} "
                    f"A GDF spec has: preset, {', '.join(GDFSpec.model_fields)}"
                )
            elif err["type"] == "missing":
                problem = f"missing {key!r}: a GDF spec needs {', '.join(GDF_PARTS)}"
            elif top in GDF_COMPONENTS:
                problem = (
                    f"expected a {GDF_COMPONENTS[top]}: a name or a {{'name': ..., **params}} dict; "
                    f"got {type(err.get('input')).__name__} {excerpt(err.get('input'))}"
                )
                key = top
            elif top == "shift" and err["type"] != "extra_forbidden":
                problem = f"a shift is a number in {SHIFT_RANGE} or {{'name': 'resolution', ...}}; got {excerpt(err.get('input'))}"
                key = top
            else:
                message = str(err["msg"]).removeprefix("Value error, ")
                problem = f"{message}; got {excerpt(err.get('input'))}"
                if top == "offset_noise":
                    problem += "; allowed: a finite number ≥ 0"
                elif top == "limits" and key == "limits.shift":
                    problem += "; allowed: a finite number > 0"
            issues.append(SpecIssue(key, problem))
        return issues, bad
    return [], set()


def build_spec(source: Any, *, registry: Optional[Registry] = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain data, built parts) of a GDF spec; one ``SpecError`` lists every problem found.

    The parts are the components by spec key (``schedule``, ..., ``sample_schedule``),
    ``offset_noise``, ``shift`` (as given, or None) and ``limits`` (a dict of
    ``setup_limits`` arguments, or None).
    """
    reg = registry or default_registry
    data = load_spec(source, registry=reg)
    issues, bad = _shape_issues(data)
    errors: list[SpecError] = [SpecError(issues[0].problem, path=issues[0].path, issues=issues)] if issues else []
    parts: dict[str, Any] = {}
    if data.get("shift") is not None and "shift" not in bad:
        from gdf_core.shift import as_shift  # the GDF's shift: a number or a resolution shift

        _collecting(errors, as_shift, data["shift"], path="shift")
    for key, kind in GDF_COMPONENTS.items():
        if key in bad or data.get(key) is None:
            continue
        part = _collecting(errors, build, kind, data[key], path=key, registry=reg)
        if key == "sample_schedule" and part is not None:
            part = _collecting(errors, check_sample_schedule, part, path=key)
        parts[key] = part
    if errors:
        raise SpecError.combine(errors)
    parts["offset_noise"] = float(data.get("offset_noise", 0.0))
    parts["shift"] = data.get("shift")
    limits = data.get("limits")
    parts["limits"] = None if limits is None else LimitsSpec.model_validate(limits).model_dump()
    return data, parts


def check_sample_schedule(schedule: Any, *, path: str = "sample_schedule") -> Any:
    """``schedule``, if it gives λ(t) for a sampling grid; a training-only schedule is refused."""
    if getattr(schedule, "supports_t", True) is False:
        raise SpecError(
            f"the schedule {name_of(type(schedule))!r} only draws λ for training (it has no λ(t) to sample "
            "along); give a schedule with a λ(t), e.g. 'edm_sample', 'karras' or 'cosine'",
            path=path,
        )
    return schedule


def validate_spec(source: Any, *, registry: Optional[Registry] = None) -> dict[str, Any]:
    """The plain data of a GDF spec, checked whole (shape and every component); one ``SpecError`` lists every problem."""
    return build_spec(source, registry=registry)[0]


def spec_of(component: Any) -> ComponentSpec:
    """The spec of a component instance (what ``build`` turns back into an equal one)."""
    to_spec = getattr(component, "to_spec", None)
    return to_spec() if callable(to_spec) else component_spec(component)


__all__ = [
    "ComponentSpec",
    "GDFSpec",
    "LimitsSpec",
    "MAX_DEPTH",
    "MAX_SPEC_BYTES",
    "MAX_VALUES",
    "SPEC_SUFFIXES",
    "build",
    "build_spec",
    "check_bounds",
    "check_sample_schedule",
    "is_spec_file",
    "read_spec_file",
    "component_fields",
    "load_spec",
    "parameters_model",
    "spec_of",
    "validate_spec",
]


def json_schema(registry: Optional[Registry] = None) -> dict[str, Any]:
    """The JSON Schema of a GDF spec covering every installed component (see ``gdf_core.schema``)."""
    from gdf_core.schema import json_schema as _json_schema  # at call time: schema.py builds on this module

    return _json_schema(registry)


__all__ += ["json_schema"]
