"""What a person sees with kubectl: printer columns, short names, categories, field docs."""

from __future__ import annotations

import pytest

from intentloop_intents.resources import KINDS, Kind
from tests.e2e.conftest import Cluster


@pytest.mark.e2e
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_kubectl_get_shows_the_printer_columns_by_every_short_name(
    cluster: Cluster, kind: Kind
) -> None:
    for name in (kind.plural, *kind.short_names):
        args = ["get", name, "-A"] if kind.namespaced else ["get", name]
        out = cluster.kubectl(*args, "-o", "wide", "--no-headers=false", check=False)
        assert out.returncode == 0, out.stderr
        header = out.stdout.splitlines()[0] if out.stdout else ""
        if not header:  # nothing of that kind exists: kubectl says so on stderr
            assert "No resources found" in out.stderr
            continue
        for column in kind.columns:
            assert column.name.upper() in header, (name, column.name, header)


@pytest.mark.e2e
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_kubectl_explain_describes_the_kind_and_its_spec_fields(
    cluster: Cluster, kind: Kind
) -> None:
    out = cluster.kubectl("explain", kind.plural)
    assert kind.description.split(":")[0] in " ".join(out.stdout.split()), out.stdout
    spec = cluster.kubectl("explain", f"{kind.plural}.spec").stdout
    described = [
        (field.alias or name, field.description)
        for name, field in kind.spec.model_fields.items()
        if field.description
    ]
    assert described, f"{kind.kind}.spec has no documented field"
    for alias, description in described:
        assert alias in spec, (kind.kind, alias)
        assert description.split()[0] in spec, (kind.kind, alias, description)


@pytest.mark.e2e
def test_kubectl_get_intentloop_lists_every_kind(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "--categories=intentloop", "-o", "name")
    assert sorted(out.stdout.split()) == sorted(f"{k.plural}.intentloop.io" for k in KINDS)
