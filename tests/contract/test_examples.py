"""Every example in the contract is one the API would accept or answer: each request and
response example validates against its operation's schema in the merged spec (the one the
gateway serves, built offline), $refs resolved. Services whose examples are complete must
have them on every operation."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deploy.openapi import merged_spec
from shared.contracts.common import SERVICES
from shared.openapi import _has_examples, operations

# Services with an example on every operation of their own (the health and ops operations
# every service shares are not yet: shared/data/api/common.yaml).
COMPLETE = {"review"}
SHARED = ("/health/", "/ops/")


@cache
def spec() -> dict[str, Any]:
    return merged_spec()


def examples(service: str) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example under /api/<service>."""
    found = []
    for method, path, op in operations(spec()):
        if not path.startswith(f"/api/{service}/"):
            continue
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if "example" in content:
                found.append((f"{method} {path} request {media}", content["schema"],
                              content["example"]))
        for status, response in op.get("responses", {}).items():
            for media, content in response.get("content", {}).items():
                if "example" in content and media == "application/json":
                    found.append((f"{method} {path} {status}", content["schema"],
                                  content["example"]))
    return found


def check(schema: dict[str, Any], example: Any) -> list[str]:
    # The schema under the spec's own components, so "#/components/schemas/..." resolves.
    root = {**schema, "components": spec()["components"]}
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(example)]


@pytest.mark.parametrize("service", SERVICES)
def test_every_example_validates_against_its_schema(service: str) -> None:
    found = examples(service)
    if service in COMPLETE:
        assert found, f"{service} has no examples"
    wrong = {where: errors for where, schema, example in found
             if (errors := check(schema, example))}
    assert not wrong, "\n".join(f"{w}: {e}" for w, e in wrong.items())


@pytest.mark.parametrize("service", sorted(COMPLETE))
def test_a_complete_service_shows_an_example_on_every_operation(service: str) -> None:
    lacking = [f"{method} {path}" for method, path, op in operations(spec())
               if path.startswith(f"/api/{service}/") and not path.startswith(
                   tuple(f"/api/{service}{s}" for s in SHARED)) and not _has_examples(op)]
    assert not lacking, "no example (shared/data/api/<service>.yaml):\n" + "\n".join(lacking)


def test_a_wrong_example_is_caught() -> None:
    """The check itself can fail: a case step without its status is refused."""
    _, schema, example = next(e for e in examples("review")
                              if e[0] == "POST /api/review/cases/{case_id}/confirm 200")
    assert check(schema, example) == []
    broken = {k: v for k, v in example.items() if k != "status"}
    assert any("status" in e for e in check(schema, broken))
    assert check(schema, {**example, "version": "eight"})
