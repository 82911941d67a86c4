"""Every example the contract shows is an instance of its operation's schema: request
examples against the request body's schema, response examples against the success
response's, $refs resolved in the merged spec (deploy.openapi.merged_spec, what the
gateway serves). A service is listed once its examples are complete (issue 20)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deploy.openapi import merged_spec
from shared.openapi import gaps, operations

pytestmark = pytest.mark.slow

# Services whose every operation has its examples.
EXAMPLED = ["archive", "disbursement", "intake", "publicity", "review"]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return merged_spec()


def examples(spec: dict[str, Any], service: str
             ) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of every example shown for the service's operations."""
    for method, path, op in operations(spec):
        if not path.startswith(f"/api/{service}/"):
            continue
        shown = [("request", media, m) for media, m in
                 op.get("requestBody", {}).get("content", {}).items()]
        shown += [(status, media, m) for status, r in op.get("responses", {}).items()
                  if status.startswith("2") for media, m in r.get("content", {}).items()]
        for where, media, m in shown:
            if "example" in m and "schema" in m:
                yield f"{method} {path} {where} {media}", m["schema"], m["example"]


def problems(spec: dict[str, Any], schema: dict[str, Any], example: Any) -> list[str]:
    # The schema as the root beside the spec's components, so "#/components/..." resolves.
    root = {**schema, "components": spec["components"]}
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(example)]


@pytest.mark.parametrize("service", EXAMPLED)
def test_every_operation_shows_its_examples(spec: dict[str, Any], service: str) -> None:
    lacking = [g for g in gaps(spec) if f" /api/{service}/" in g and "example" in g]
    assert not lacking, "\n".join(lacking)


@pytest.mark.parametrize("service", EXAMPLED)
def test_every_example_validates_against_its_schema(spec: dict[str, Any],
                                                    service: str) -> None:
    found = list(examples(spec, service))
    assert len(found) >= 20, len(found)  # the service's examples were found at all
    wrong = [f"{where}: {p}" for where, schema, example in found
             for p in problems(spec, schema, example)]
    assert not wrong, "examples that do not fit their schema:\n" + "\n".join(wrong)


def test_an_example_that_does_not_fit_is_named(spec: dict[str, Any]) -> None:
    """The check above can fail: a response example lacking a required field, or holding
    one its model forbids, is refused with the field named."""
    where, schema, example = next(
        e for e in examples(spec, "archive") if e[0].startswith("GET /api/archive/files/"))
    lacking = copy.deepcopy(example)
    del lacking["township"]
    assert any("'township' is a required property" in p
               for p in problems(spec, schema, lacking)), where
    extra = {**example, "pension": "2000.00"}
    assert any("pension" in p for p in problems(spec, schema, extra)), where
