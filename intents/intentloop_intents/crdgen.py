"""Generate CustomResourceDefinitions from the pydantic resource models.

pydantic emits JSON Schema (draft 2020-12); the API server wants a *structural* OpenAPI v3
schema: no `$ref`, every node typed, `nullable` rather than `anyOf [X, null]`, no
`uniqueItems` (a list's uniqueness is declared with `x-kubernetes-list-type`). This module
does that translation and nothing else, so `crds/` can always be regenerated and compared.
"""

from __future__ import annotations

from typing import Any

from intentloop_intents.resources import CATEGORY, GROUP, KINDS, VERSION, Kind

JsonSchema = dict[str, Any]

# Keys pydantic emits that a CRD schema has no use for (or forbids).
_DROPPED = {"title", "examples", "$defs", "uniqueItems", "discriminator"}
_PASSED = {
    "type",
    "format",
    "description",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "required",
    "default",
    "nullable",
}


def structural(schema: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """Translate one pydantic JSON Schema node (and its children) to structural OpenAPI."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    any_of = schema.get("anyOf")
    if any_of is not None:
        return _optional(schema, any_of, defs)
    out: JsonSchema = {}
    for key, value in schema.items():
        _copy_key(out, key, value, defs)
    _exclusive_bounds(schema, out)
    if out.get("default") is None:
        out.pop("default", None)
    if "properties" in out:
        out.setdefault("type", "object")
        if not out.get("required"):
            out.pop("required", None)
        out.pop("additionalProperties", None)
    return out


def _copy_key(out: JsonSchema, key: str, value: Any, defs: dict[str, JsonSchema]) -> None:
    if key in _DROPPED:
        return
    if key == "properties":
        out["properties"] = {name: structural(sub, defs) for name, sub in value.items()}
    elif key == "items":
        out["items"] = structural(value, defs)
    elif key == "additionalProperties":
        if isinstance(value, dict):
            out["additionalProperties"] = structural(value, defs)
    elif key == "const":
        out["enum"] = [value]
    elif key.startswith("x-kubernetes-") or key in _PASSED:
        out[key] = value


def _exclusive_bounds(schema: JsonSchema, out: JsonSchema) -> None:
    """JSON Schema 2020-12 writes `exclusiveMinimum: 0`; OpenAPI v3.0 wants a flag."""
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(exclusive)
        if value is not None and not isinstance(value, bool):
            out[bound] = value
            out[exclusive] = True


def _optional(
    schema: JsonSchema, any_of: list[JsonSchema], defs: dict[str, JsonSchema]
) -> JsonSchema:
    options = [o for o in any_of if o.get("type") != "null"]
    if len(options) != 1:
        raise ValueError(f"unions are not structural: {any_of!r}")
    outer = {k: v for k, v in schema.items() if k != "anyOf"}
    inner = structural({**options[0], **outer}, defs)
    return inner


def schema_for(kind: Kind) -> JsonSchema:
    spec = kind.spec.model_json_schema(by_alias=True, mode="validation")
    status = kind.status.model_json_schema(by_alias=True, mode="validation")
    spec_schema = structural(spec, spec.get("$defs", {}))
    status_schema = structural(status, status.get("$defs", {}))
    status_schema.pop("required", None)
    # kopf keeps its own bookkeeping in status when asked to; the API server must keep it.
    status_schema.setdefault("properties", {})["kopf"] = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    schema: JsonSchema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if kind.validations:
        schema["x-kubernetes-validations"] = list(kind.validations)
    return schema


def crd_for(kind: Kind) -> JsonSchema:
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"priority": c.priority} if c.priority else {}),
            **({"description": c.description} if c.description else {}),
        }
        for c in kind.columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema_for(kind)},
                }
            ],
        },
    }


def all_crds() -> dict[str, JsonSchema]:
    """File name → CRD, for every kind."""
    return {f"{GROUP}_{k.plural}.yaml": crd_for(k) for k in KINDS}
