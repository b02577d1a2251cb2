"""The API reference (`docs/api.md`), generated from the same models as the CRDs.

People read field names, types, limits and error messages in the docs; the API server
enforces them from `crds/`. Both come from the pydantic models in `resources/`, through the
one structural schema `crdgen.schema_for` builds, so the reference cannot promise a limit the
API server does not check (or miss one it does). A unit test fails when `docs/api.md` differs
from `render()`; `make docs` rewrites it.

Pure text in, text out: no file is read or written here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from intentloop_intents import crdgen
from intentloop_intents.resources import API_VERSION, CATEGORY, KINDS, Kind

JsonSchema = dict[str, Any]

HEADER = (
    "<!-- Generated from the models in intents/intentloop_intents/resources by `make docs`"
    " (intentloop_intents.apidocs). Do not edit by hand. -->"
)
# Characters that mean something to Markdown outside code spans (`|` is handled per table).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# Nodes `crdgen` adds without a model behind them, so without a docstring to show.
_NOTES = {
    "status.kopf": "kopf's own bookkeeping (handler progress); written and read by the operator.",
}


@dataclass(frozen=True)
class Rule:
    """One CEL rule: the node `self` is, the rule, its message, where the error is reported."""

    path: str
    rule: str
    message: str
    field_path: str | None


@dataclass(frozen=True)
class Field:
    """One documented field: its full path (`spec.netconf.port`) and its schema node."""

    path: str
    schema: JsonSchema
    required: bool | None


# -- Markdown helpers ----------------------------------------------------------------------


def code(text: str) -> str:
    """`text` as one inline code span, whatever backticks it contains (on one line)."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def prose(text: str) -> str:
    """A description as one Markdown line: code spans kept, everything else taken literally."""
    text = " ".join(text.split())
    out: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[last : match.start()]))
        out.append(code(match.group(2)))
        last = match.end()
    out.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(out)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub table; a `|` in a cell (even inside a code span) is escaped, not a border."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


# -- walking the structural schema ---------------------------------------------------------


def walk(node: JsonSchema, path: str, required: bool | None = None) -> Iterator[Field]:
    """`node` and every node below it, depth first, in the models' declaration order.

    `required` is None for nodes that are not fields themselves (list items, map values).
    """
    yield Field(path, node, required)
    names = set(node.get("required", []))
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}", name in names)
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        if isinstance(node.get(key), dict):
            yield from walk(node[key], path + suffix)


def fields(node: JsonSchema, path: str) -> list[Field]:
    """Every field below `node` (not `node` itself, not list items or map values)."""
    return [f for f in walk(node, path) if f.required is not None]


def rules(node: JsonSchema, path: str) -> list[Rule]:
    """Every CEL rule at or below `node`, with the path of the node it is evaluated on."""
    return [
        Rule(f.path, entry["rule"], entry["message"], entry.get("fieldPath"))
        for f in walk(node, path)
        for entry in f.schema.get("x-kubernetes-validations", [])
    ]


# -- describing one schema node ------------------------------------------------------------


def type_name(node: JsonSchema) -> str:
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return f"array of {type_name(node['items'])}"
    values = node.get("additionalProperties")
    if node.get("type") == "object" and isinstance(values, dict):
        return f"map of {type_name(values)}"
    kind = str(node.get("type", "any"))
    return f"{kind} ({node['format']})" if "format" in node else kind


def _bounds(node: JsonSchema) -> str | None:
    low, high = node.get("minimum"), node.get("maximum")
    low_open, high_open = node.get("exclusiveMinimum") is True, node.get("exclusiveMaximum") is True
    if low is not None and high is not None and not (low_open or high_open):
        return f"{low} to {high}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '≥'} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '≤'} {high}")
    return ", ".join(parts) or None


def _span(node: JsonSchema, low_key: str, high_key: str, unit: str) -> str | None:
    low, high = node.get(low_key), node.get(high_key)
    if low is not None and high is not None:
        return f"{low} to {high} {unit}"
    if high is not None:
        return f"at most {high} {unit}"
    if low is not None:
        return f"at least {low} {unit}"
    return None


def _list_semantics(node: JsonSchema) -> str | None:
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        return "items are unique"
    if list_type == "map":
        keys = ", ".join(code(k) for k in node.get("x-kubernetes-list-map-keys", []))
        return f"items are unique by {keys}"
    return None


def constraints(node: JsonSchema) -> list[str]:
    """What the API server refuses for this node, in words (item limits prefixed)."""
    found = [
        _bounds(node),
        _span(node, "minLength", "maxLength", "characters"),
        _span(node, "minItems", "maxItems", "items"),
        _list_semantics(node),
    ]
    if "enum" in node:
        found.append("one of " + ", ".join(code(value_text(v)) for v in node["enum"]))
    if "pattern" in node:
        found.append("matches " + code(node["pattern"]))
    if node.get("x-kubernetes-preserve-unknown-fields"):
        found.append("any fields are kept")
    items = node.get("items")
    item_limits = (
        constraints(items) if isinstance(items, dict) and "properties" not in items else []
    )
    if item_limits:
        found.append("each item: " + ", ".join(item_limits))
    return [c for c in found if c]


def value_text(value: Any) -> str:
    """A value as it is written in YAML: strings bare (but `""` for empty), the rest as JSON."""
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, ensure_ascii=False)


def describe(node: JsonSchema, path: str = "") -> str:
    text = node.get("description") or _NOTES.get(path, "")
    items = node.get("items")
    if not text and isinstance(items, dict):
        text = items.get("description") or ""
    return prose(str(text))


def field_entry(f: Field) -> list[str]:
    """One field as a list item: path, type, required or default; description; limits."""
    head = [type_name(f.schema)]
    if f.required:
        head.append("**required**")
    elif "default" in f.schema:
        head.append("default " + code(value_text(f.schema["default"])))
    else:
        head.append("optional")
    lines = [f"- {code(f.path)} · " + " · ".join(head)]
    description = describe(f.schema, f.path)
    if description:
        lines.append(f"  {description}")
    limits = constraints(f.schema)
    if limits:
        lines.append("  Allowed: " + "; ".join(limits) + ".")
    return [line + "\\" for line in lines[:-1]] + lines[-1:]


# -- one kind --------------------------------------------------------------------------------


def _overview(kind: Kind) -> list[str]:
    scope = "Namespaced" if kind.namespaced else "Cluster"
    return [
        f"## {kind.kind}",
        "",
        prose(kind.description),
        "",
        f"- API version: {code(API_VERSION)}, kind {code(kind.kind)}",
        f"- Scope: {scope}",
        f"- Plural: {code(kind.plural)}; short names: "
        + ", ".join(code(s) for s in kind.short_names),
        f"- Category: {code(CATEGORY)} (`kubectl get {CATEGORY} -A` lists it)",
    ]


def _columns(kind: Kind) -> list[str]:
    described = any(c.description for c in kind.columns)  # else leave the empty cell out
    header = ["Column", "Type", "JSONPath", "Shown"] + (["Description"] if described else [])
    rows = [
        [prose(c.name), c.type, code(c.json_path), "`-o wide`" if c.priority else "always"]
        + ([prose(c.description)] if described else [])
        for c in kind.columns
    ]
    return [f"### `kubectl get {kind.plural}` columns", "", *_table(header, rows)]


def _rules(kind: Kind, schema: JsonSchema) -> list[str]:
    found = [r for part in ("spec", "status") for r in rules(schema["properties"][part], part)]
    if not found:
        return []
    rows = []
    for r in found:
        reported = r.path + r.field_path if r.field_path else r.path
        rows.append((code(r.path), code(r.rule), prose(r.message), code(reported)))
    header = ("`self` is", "Rule (CEL)", "Error message", "Reported at")
    intro = "Checked by the API server at admission; an object breaking one is refused."
    return ["### Validation rules", "", intro, "", *_table(header, rows)]


def _section(title: str, part: str, node: JsonSchema) -> list[str]:
    lines = [f"### {title}", ""]
    if node.get("description"):
        lines += [prose(str(node["description"])), ""]
    entries = [line for f in fields(node, part) for line in field_entry(f)]
    return lines + (entries or ["No fields."])


def render_kind(kind: Kind) -> str:
    schema = crdgen.schema_for(kind)
    blocks = [
        _overview(kind),
        _columns(kind),
        _rules(kind, schema),
        _section("Spec", "spec", schema["properties"]["spec"]),
        _section("Status (written by the operator)", "status", schema["properties"]["status"]),
    ]
    return "\n\n".join("\n".join(b) for b in blocks if b) + "\n"


def _index() -> list[str]:
    rows = [
        (
            f"[{k.kind}](#{k.kind.lower()})",
            "Namespaced" if k.namespaced else "Cluster",
            ", ".join(code(s) for s in k.short_names),
            prose(k.description),
        )
        for k in KINDS
    ]
    return _table(("Kind", "Scope", "Short names", "What it is"), rows)


def render() -> str:
    """The whole reference, as `docs/api.md` holds it."""
    intro = [
        HEADER,
        "",
        f"# API reference: {code(API_VERSION)}",
        "",
        "Every kind intentloop serves. Field names are as written in YAML (camelCase); "
        "a field's limits are enforced by the API server, so an object that breaks one is "
        "refused with the field named. Status is written only by the operator.",
        "",
        *_index(),
    ]
    return "\n".join(intro) + "\n\n" + "\n".join(render_kind(k) for k in KINDS)
