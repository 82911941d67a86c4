"""The contract's examples are true: every request and response example of a service's
operations validates against the schema it illustrates, $refs resolved in the merged spec
(the spec is built offline, nothing started)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deploy.openapi import merged_spec
from shared.openapi import _has_examples, operations

# Services whose every operation carries its examples (issue 20); the list only grows.
EXAMPLED = ["intake", "publicity"]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return merged_spec()


def examples(spec: dict[str, Any], service: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) of every example of the service's operations."""
    found = []
    for method, path, op in operations(spec):
        if not path.startswith(f"/api/{service}/"):
            continue
        where = f"{method} {path}"
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if "example" in content:
                found.append((f"{where} request {media}", content["example"],
                              content["schema"]))
        for status, response in op.get("responses", {}).items():
            for media, content in response.get("content", {}).items():
                if "example" in content and media == "application/json":
                    found.append((f"{where} {status} {media}", content["example"],
                                  content["schema"]))
    return found


@pytest.mark.parametrize("service", EXAMPLED)
def test_every_operation_has_its_examples(spec: dict[str, Any], service: str) -> None:
    lacking = [f"{m} {p}" for m, p, op in operations(spec)
               if p.startswith(f"/api/{service}/") and "/ops/" not in p
               and "/health/" not in p and not _has_examples(op)]
    assert not lacking, "operations without examples:\n" + "\n".join(lacking)


@pytest.mark.parametrize("service", EXAMPLED)
def test_every_example_validates_against_its_schema(spec: dict[str, Any],
                                                    service: str) -> None:
    found = examples(spec, service)
    assert len(found) >= 10, found  # the service's examples were found at all
    wrong = []
    for where, example, schema in found:
        # The component schemas at the root, so "#/components/schemas/X" resolves.
        root = {"components": spec["components"], "allOf": [schema]}
        errors = sorted(Draft202012Validator(root).iter_errors(example), key=str)
        wrong += [f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in errors[:3]]
    assert not wrong, "examples that break their schema:\n" + "\n".join(wrong)


def test_a_wrong_example_is_caught(spec: dict[str, Any]) -> None:
    """The check above can fail: a filing with a nine-digit village does not validate."""
    ((_, example, schema),) = [e for e in examples(spec, "intake")
                               if e[0].startswith("POST /api/intake/applications request")]
    root = {"components": spec["components"], "allOf": [schema]}
    assert Draft202012Validator(root).is_valid(example)
    assert not Draft202012Validator(root).is_valid({**example, "village": "469028100"})
