"""Pieces every intentloop resource shares: camelCase models, references, conditions.

The pydantic models in this package are the single source of truth for the CRDs in
`crds/`: `crdgen` turns them into structural OpenAPI schemas, and a check fails when the two
disagree. Constraints that the API server can enforce at admission (ranges, patterns, enums,
CEL rules) are written here, on the fields, so that bad input is refused with a message
naming the field before anything is stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "intentloop.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# RFC 1123 names, as Kubernetes uses them for objects; interface names are freer.
K8sName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    ),
]
InterfaceName = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_/:.\-]*$"),
]
ShortText = Annotated[str, Field(max_length=64)]
Text = Annotated[str, Field(max_length=1024)]


def cel(rule: str, message: str, *, field_path: str | None = None) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule the API server checks at admission."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def list_map(*keys: str) -> dict[str, Any]:
    """A list whose items are unique by `keys`: the API server refuses duplicates."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}


class CamelModel(BaseModel):
    """Python uses snake_case; Kubernetes objects use camelCase. Unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        use_attribute_docstrings=True,
    )


class StatusModel(CamelModel):
    # Status is written by the operator and read back from the API server, which may carry
    # fields of newer or older versions: tolerate them rather than fail a reconcile.
    model_config = CamelModel.model_config | ConfigDict(extra="ignore")


class SecretRef(CamelModel):
    """A Secret read by name only (the operator never lists Secrets)."""

    name: K8sName
    """Name of the Secret."""
    namespace: K8sName = "intentloop-system"
    """Namespace of the Secret (default: the operator's namespace)."""


class ObjectRef(CamelModel):
    kind: ShortText
    name: K8sName
    namespace: K8sName | None = None


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    ADMITTED = "Admitted"


class Condition(StatusModel):
    type: ShortText
    status: ConditionStatus
    reason: ShortText = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: Annotated[str, Field(max_length=32768)] = ""
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: datetime | None = None


Conditions = Annotated[
    list[Condition], Field(default_factory=list, json_schema_extra=list_map("type"))
]
