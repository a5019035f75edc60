"""The JSON Schema of a GDF spec, covering every installed component, for editors and validators.

``json_schema()`` describes the whole spec: ``preset`` (one of the registered
presets), each component key as a registered name or ``{"name": ..., **params}``
with that component's parameters (derived from its constructor, exactly as
``build`` validates them), nested component parameters pointing back at their
kind. ``gdf schema -o gdf-spec.schema.json`` writes it; an editor given the file
completes names and parameters in YAML and JSON specs.

Draft 2020-12. Layout of ``$defs``: ``<kind>`` (any component of that kind),
``<kind>.<name>`` (one component), ``<kind>.<name>.<Model>`` (a model its
parameters use). A name that two distributions register is only accepted in
its qualified form, ``distribution:name`` (as written in the distribution's
metadata), as ``build`` requires.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Optional

from pydantic.json_schema import GenerateJsonSchema

from gdf_core.domains import describe, domain_of
from gdf_core.kinds import KINDS, PROTOCOLS
from gdf_core.registry import Registration, Registry, registry as default_registry
from gdf_core.parameters import component_fields, parameters_model
from gdf_core.spec import GDF_COMPONENTS, GDFSpec, LimitsSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: A distribution's name as written in a qualified ``distribution:name``.
_DIST = "[A-Za-z0-9][A-Za-z0-9._-]*"


class _Lenient(GenerateJsonSchema):
    """Pydantic's generator, giving ``{}`` (anything) for types JSON cannot express."""

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> dict[str, Any]:
        return {}

    def emit_warning(self, kind: Any, detail: str) -> None:  # non-JSON defaults are just left out
        return None


def json_schema(registry: Optional[Registry] = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a GDF spec, with every component ``registry`` knows."""
    reg = registry or default_registry
    defs: dict[str, Any] = {}
    for kind in KINDS:
        alternatives = []
        for name, entries in sorted(reg.registrations(kind).items()):
            for entry in entries:
                key = f"{kind}.{entry.qualified_name if len(entries) > 1 else name}"
                defs[key] = _component_schema(entry, ambiguous=len(entries) > 1, defs=defs, key=key)
                alternatives.append({"$ref": f"#/$defs/{key}"})
        defs[kind] = {
            "title": kind,
            "description": f"{_first_line(PROTOCOLS[kind].__doc__)} A registered name or {{\"name\": ..., **parameters}}.",
            # No installed component of the kind: nothing is valid (an empty oneOf is not a schema).
            **({"oneOf": alternatives} if alternatives else {"not": {}}),
        }
    presets = sorted(reg.presets())
    properties: dict[str, Any] = {
        "preset": {
            "description": "A registered preset to start from; the other keys override its parts.",
            "anyOf": [
                {"type": "string", "enum": presets},
                {"type": "string", "pattern": f"^{_DIST}:[^:]+$"},
            ],
        }
    }
    spec_schema = GDFSpec.model_json_schema(schema_generator=_Lenient)["properties"]
    for key, field in GDFSpec.model_fields.items():
        if key in GDF_COMPONENTS:
            ref: dict[str, Any] = {"$ref": f"#/$defs/{GDF_COMPONENTS[key]}"}
            prop = ref if field.is_required() else {"anyOf": [ref, {"type": "null"}]}
        elif key == "limits":
            prop = _limits_schema()
        else:
            prop = {k: v for k, v in spec_schema[key].items() if k != "title"}
        if field.description:
            prop = {**prop, "description": field.description}
        properties[key] = prop
    required = [key for key, field in GDFSpec.model_fields.items() if field.is_required()]
    return {
        "$schema": DIALECT,
        "title": "gdf spec",
        "description": "A GDF (Generic Diffusion Framework) spec: a preset and/or one component per kind.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "if": {"required": ["preset"]},
        "else": {"required": required},
        "$defs": defs,
    }


def _component_schema(entry: Registration, *, ambiguous: bool, defs: dict[str, Any], key: str) -> dict[str, Any]:
    """One component: its name alone, or an object of its name and parameters."""
    name = entry.name
    qualified = {"type": "string", "pattern": f"^{_DIST}:{re.escape(name)}$"}
    # An ambiguous name is valid only qualified with this entry's own distribution.
    names = [{"const": entry.qualified_name}] if ambiguous else [{"const": name}, qualified]
    params = _parameters_schema(entry.cls, defs, prefix=f"{key}.")
    required_params = params.pop("required", [])
    as_object = {
        "type": "object",
        "properties": {"name": {"anyOf": names}, **params.get("properties", {})},
        "required": ["name", *required_params],
        "additionalProperties": False,
    }
    alternatives = [] if required_params else [{"type": "string", "anyOf": names}]
    source = entry.source if entry.distribution is not None else "registered in this process"
    return {
        "title": entry.qualified_name if ambiguous else name,
        "description": f"{_first_line(entry.cls.__doc__) or entry.cls.__name__} ({source})",
        "oneOf": [*alternatives, as_object],
    }


def _parameters_schema(cls: type, defs: dict[str, Any], *, prefix: str) -> dict[str, Any]:
    """The JSON Schema of ``cls``'s parameters; its models go into ``defs`` under ``prefix``."""
    try:
        schema = parameters_model(cls).model_json_schema(
            ref_template=f"#/$defs/{prefix}{{model}}", schema_generator=_Lenient
        )
    except Exception:  # a parameter pydantic cannot describe at all: accept any value for each
        fields = component_fields(cls)
        schema = {
            "properties": {p: {} for p in fields},
            "required": [p for p, (_, default, _, _) in fields.items() if default is ...],
        }
    for model, sub in schema.pop("$defs", {}).items():
        defs[f"{prefix}{model}"] = sub
    properties = schema.get("properties", {})
    for pname, (annotation, default, nested, is_list) in component_fields(cls).items():
        if nested is None and pname in properties:
            # What JSON Schema cannot say (finite, low < high), in words, where a domain is declared.
            if domain_of(annotation).bounded and "description" not in properties[pname]:
                properties[pname]["description"] = f"allowed: {describe(annotation)}"
        if nested is None or pname not in properties:
            continue
        ref: dict[str, Any] = {"$ref": f"#/$defs/{nested}"}
        prop: dict[str, Any] = {"type": "array", "items": ref} if is_list else ref
        if default is None:
            prop = {"anyOf": [prop, {"type": "null"}], "default": None}
        properties[pname] = {"title": properties[pname].get("title", pname), **prop}
    return schema


def _limits_schema() -> dict[str, Any]:
    """``limits``: the keyword arguments of ``GDF.setup_limits`` (``gdf_core.spec.LimitsSpec``)."""
    schema = LimitsSpec.model_json_schema(schema_generator=_Lenient)
    properties = {name: {k: v for k, v in prop.items() if k != "title"} for name, prop in schema["properties"].items()}
    return {
        "anyOf": [{"type": "object", "properties": properties, "additionalProperties": False}, {"type": "null"}],
    }


def _first_line(doc: Optional[str]) -> str:
    return (inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else "").strip()


__all__ = ["DIALECT", "json_schema"]
