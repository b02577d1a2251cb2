"""The CRDs generated from the models are structural and say what kubectl users need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from intentloop_intents import crdgen
from intentloop_intents.resources import KINDS, by_kind
from intentloop_operator import crdfiles

REPO = Path(__file__).resolve().parents[2]


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        out += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _walk(node["additionalProperties"], f"{path}{{}}")
    return out


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_schema_node_is_typed_and_free_of_json_schema_only_keywords(kind: Any) -> None:
    schema = crdgen.schema_for(kind)
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "uniqueItems" not in node, path
        preserved = node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or preserved, f"{kind.kind}{path} has no type"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_crd_has_status_subresource_category_and_short_names(kind: Any) -> None:
    crd = crdgen.crd_for(kind)
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert "intentloop" in crd["spec"]["names"]["categories"]
    assert crd["spec"]["names"]["shortNames"]
    assert version["additionalPrinterColumns"]


def test_cross_field_rules_are_cel_validations_on_the_spec() -> None:
    link = crdgen.schema_for(by_kind("Link"))["properties"]["spec"]
    rules = [v["rule"] for v in link["x-kubernetes-validations"]]
    assert "self.a.device != self.b.device" in rules


def test_exclusive_minimum_becomes_the_openapi_v3_flag() -> None:
    spec = crdgen.schema_for(by_kind("NetworkService"))["properties"]["spec"]
    bw = spec["properties"]["bandwidthMbps"]
    assert bw["minimum"] == 0 and bw["exclusiveMinimum"] is True


def test_committed_crds_are_in_step_with_the_models() -> None:
    assert crdfiles.check(REPO / "crds") == []


def test_check_reports_a_hand_edited_crd(tmp_path: Path) -> None:
    crdfiles.write(tmp_path)
    victim = tmp_path / "intentloop.io_links.yaml"
    victim.write_text(victim.read_text().replace("capacityMbps", "capacity"))
    assert crdfiles.check(tmp_path) == [f"{victim}: differs from the models"]


def test_examples_validate_against_the_models() -> None:
    seen = 0
    for path in sorted((REPO / "intents" / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or not doc["apiVersion"].startswith("intentloop.io/"):
                continue
            by_kind(doc["kind"]).spec.model_validate(doc["spec"])
            seen += 1
    assert seen >= 8
