"""Every documented example is an instance of its schema: a request example validates
against the operation's request body, a response example against its JSON answer ($refs
resolved in the merged spec). Built offline (deploy.openapi.merged_spec), nothing started.
Services join EXAMPLED once each of their operations has its examples."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deploy.openapi import merged_spec
from shared.openapi import JSON, _has_examples, operations

EXAMPLED = ["disbursement"]
# The runtime's own operations, the same in every service (shared/data/api/common.yaml).
RUNTIME = ("health", "ops")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return merged_spec()


def examples(op: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of each example the operation documents."""
    found = []
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        found += [(f"request {media}", content["schema"], x) for x in _of(content)]
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {}).get(JSON)
        if status.startswith("2") and content is not None:
            found += [(f"response {status}", content["schema"], x) for x in _of(content)]
    return found


def _of(content: dict[str, Any]) -> list[Any]:
    listed = [e["value"] for e in content.get("examples", {}).values()]
    return [content["example"], *listed] if "example" in content else listed


@pytest.mark.parametrize("service", EXAMPLED)
def test_every_operation_has_examples_and_each_validates(spec: dict[str, Any],
                                                         service: str) -> None:
    ops = [(m, p, op) for m, p, op in operations(spec) if p.startswith(f"/api/{service}/")
           and p.split("/")[3] not in RUNTIME]
    assert ops
    missing = [f"{m} {p}" for m, p, op in ops if not _has_examples(op, spec)]
    assert not missing, "operations without examples:\n" + "\n".join(missing)
    invalid = []
    for method, path, op in ops:
        for where, schema, example in examples(op):
            validator = Draft202012Validator({**schema, "components": spec["components"]})
            invalid += [f"{method} {path} {where}: {e.json_path}: {e.message}"
                        for e in validator.iter_errors(example)]
    assert not invalid, "examples that are not instances of their schema:\n" + "\n".join(
        invalid)


def test_a_wrong_example_is_caught(spec: dict[str, Any]) -> None:
    """The check can fail: an answer missing a required field is not an instance."""
    op = spec["paths"]["/api/disbursement/fund-plans/{month}/household-list"]["post"]
    content = op["responses"]["201"]["content"][JSON]
    broken = {k: v for k, v in content["example"].items() if k != "total"}
    validator = Draft202012Validator({**content["schema"], "components": spec["components"]})
    assert [e.message for e in validator.iter_errors(broken)] == [
        "'total' is a required property"]
