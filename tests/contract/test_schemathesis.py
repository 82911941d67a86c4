"""Issue 19's bounded schemathesis run: every operation of the merged spec, through the
gateway of a launched stack, with a token of a role the operation admits. It fails on any
5xx and on any response the contract does not describe (status code, content type, body
schema). Bounded per operation so the step takes a few minutes; the numbers are printed."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.launcher import Stack
from tests.support.places import YELIN

pytestmark = [pytest.mark.nats, pytest.mark.slow]

# Examples per operation and mode: 142 operations × (positive + negative) stay within a
# few minutes on a loaded two-core CI machine. SCHEMATHESIS_EXAMPLES raises it locally.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
# A regular expression to run only some operations while fixing them (locally).
ONLY = os.environ.get("SCHEMATHESIS_ONLY", "")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def token_for(role: str, tokens: dict[str, str]) -> str:
    if role in tokens:
        return tokens[role]
    if f"{role}@{YELIN}" in tokens:
        return tokens[f"{role}@{YELIN}"]
    return next(t for k, t in tokens.items() if k.startswith(f"{role}@{YELIN}"))


class Run:
    def __init__(self, url: str) -> None:
        self.url, self.cases = url, 0
        self.failures: list[str] = []

    def exercise(self, operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
        seen: set[str] = set()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            self.cases += 1
            response = case.call(base_url=self.url, headers=headers, timeout=60)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, BaseExceptionGroup) as e:  # collect all, fail once
                key = f"{operation.label} {response.status_code}"
                if key not in seen:
                    seen.add(key)
                    reasons = [str(x).split("\n")[0] for x in getattr(e, "exceptions", [e])]
                    body = response.text[:300].replace("\n", " ")
                    self.failures.append(f"{key} [{mode.value}]: {'; '.join(reasons)} :: "
                                         f"{case.method} {case.formatted_path} "
                                         f"query={case.query} body={str(case.body)[:200]}"
                                         f" -> {body}")

        try:
            run()
        except Unsatisfiable:  # negative data for an operation that takes no input
            assert mode is GenerationMode.NEGATIVE, operation.label


def test_schemathesis_through_the_gateway(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url}/api/openapi.json", timeout=60).json()
    schema = schemathesis.openapi.from_dict(spec)
    run = Run(stack.url)
    started = time.monotonic()
    durations: dict[str, float] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if ONLY and not re.search(ONLY, operation.label):
            continue
        roles = operation.definition.raw.get("x-roles") or []
        headers = ({"authorization": f"Bearer {token_for(roles[0], stack.tokens)}"}
                   if roles else {})
        began = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run.exercise(operation, mode, headers)
        durations[operation.label] = time.monotonic() - began
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {run.cases} cases over {len(spec['paths'])} paths in "
          f"{elapsed:.0f}s, {len(run.failures)} distinct failures")
    slowest = sorted(durations.items(), key=lambda kv: -kv[1])[:5]
    print("slowest: " + ", ".join(f"{label} {s:.1f}s" for label, s in slowest))
    for failure in run.failures:
        print(failure)
    assert not run.failures, f"{len(run.failures)} failures (listed above)"
