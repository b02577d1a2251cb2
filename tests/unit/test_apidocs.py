"""docs/api.md is generated from the models and says everything a person writing YAML needs."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from intentloop_intents import apidocs, crdgen
from intentloop_intents.resources import KINDS, Column, Kind
from intentloop_intents.resources.meta import cel, validations

REPO = Path(__file__).resolve().parents[2]
API_MD = REPO / "docs" / "api.md"
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _section(docs: str, kind: Kind) -> str:
    """The part of the reference about `kind`: from its heading to the next kind's."""
    start = docs.index(f"\n## {kind.kind}\n")
    end = docs.find("\n## ", start + 1)
    return docs[start : end if end != -1 else len(docs)]


def _schema_paths(node: dict[str, Any], path: str) -> list[str]:
    """Every field path under `node`, walked independently of the generator."""
    out = []
    for name, sub in node.get("properties", {}).items():
        out += [f"{path}.{name}", *_schema_paths(sub, f"{path}.{name}")]
    if isinstance(node.get("items"), dict):
        out += _schema_paths(node["items"], f"{path}[]")
    return out


def test_docs_api_md_is_in_step_with_the_models() -> None:
    wanted = apidocs.render()
    present = API_MD.read_text(encoding="utf-8") if API_MD.exists() else ""
    if present != wanted:
        diff = difflib.unified_diff(
            present.splitlines(), wanted.splitlines(), "docs/api.md", "render()", lineterm=""
        )
        excerpt = "\n".join(list(diff)[:30])
        pytest.fail(f"docs/api.md is out of date with the models: run `make docs`\n{excerpt}")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_kind_and_every_field_of_its_spec_and_status_is_documented(kind: Kind) -> None:
    section = _section(apidocs.render(), kind)
    for model, part in ((kind.spec, "spec"), (kind.status, "status")):
        for name, info in model.model_fields.items():
            assert f"`{part}.{info.alias or name}`" in section, f"{kind.kind} {part}.{name}"
    schema = crdgen.schema_for(kind)["properties"]
    for path in _schema_paths(schema["spec"], "spec") + _schema_paths(schema["status"], "status"):
        assert f"- `{path}` · " in section, f"{kind.kind}: {path} is not documented"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_scope_short_names_columns_and_cel_messages_are_documented(kind: Kind) -> None:
    section = _section(apidocs.render(), kind)
    assert f"Scope: {'Namespaced' if kind.namespaced else 'Cluster'}" in section
    for short in kind.short_names:
        assert f"`{short}`" in section
    for column in kind.columns:
        assert apidocs.code(column.json_path).replace("|", "\\|") in section
    for rule in apidocs.rules(crdgen.schema_for(kind)["properties"]["spec"], "spec"):
        assert apidocs.prose(rule.message) in section, rule.message


def test_the_limits_the_api_server_enforces_are_spelled_out() -> None:
    docs = apidocs.render()
    assert "- `spec.capacityMbps` · integer · **required**" in docs
    assert "Allowed: > 0, ≤ 10000000." in _section(docs, next(k for k in KINDS if k.kind == "Link"))
    assert "one of `repair`, `report`" in docs
    assert "items are unique by `device`, `interface`" in docs
    assert "`spec.netconf.port` · integer · default `830`" in docs


class _HostileSpec(BaseModel):
    """Tables use `|`; <b>tags</b> and *stars* must stay text."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel("self.a || self.b", "a | b must hold", field_path=".a"))
    )

    a: bool = False
    """Either `a`` or `b` | both."""
    b: str = Field(default="", pattern=r"^(x|y)`$")


class _EmptyStatus(BaseModel):
    pass


HOSTILE = Kind(
    "Hostile",
    "hostiles",
    ("hst",),
    True,
    _HostileSpec,
    _EmptyStatus,
    "Description with <html> & | pipes.",
    (Column("Odd|Name", '.spec.b[?(@=="|")]'),),
)


def _tables(markdown: str) -> list[list[str]]:
    tables: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    return tables


def test_markup_in_descriptions_patterns_and_rules_cannot_break_the_page() -> None:
    text = apidocs.render_kind(HOSTILE)
    tables = _tables(text)
    assert len(tables) == 2, "the columns and the rules tables"
    for table in tables:  # every row has exactly as many cells as the header
        cells = {len(UNESCAPED_PIPE.split(row)) for row in table}
        assert len(cells) == 1, table
    assert "\\<html\\>" in text and "<html>" not in text.replace("\\<html\\>", "")
    assert "\\<b\\>tags\\</b\\> and \\*stars\\*" in text
    assert "matches ``^(x|y)`$``" in text  # one code span, the backtick inside it
    assert "`self.a \\|\\| self.b`" in text  # a pipe in a table cell is escaped


def test_a_code_span_holds_any_backticks_on_one_line() -> None:
    assert apidocs.code("plain") == "`plain`"
    assert apidocs.code("a`b") == "``a`b``"
    assert apidocs.code("`edge`") == "`` `edge` ``"
    assert apidocs.code("two\nlines") == "`two lines`"
