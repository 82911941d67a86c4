"""Every list endpoint of every service bounds its `offset` and `limit` query parameters, so
an integer past 64 bits is a 422 naming the field, never a database overflow (a 500)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.contracts.common import SERVICES
from shared.web import MAX_OFFSET
from tests.support.stack import build_service


def paged_parameters(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in openapi["paths"].items():
        for method, op in operations.items():
            for p in op.get("parameters", []):
                if p["in"] == "query" and p["name"] in ("offset", "limit"):
                    found.append((f"{method.upper()} {path}", p["name"], p["schema"]))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_offset_and_limit_is_bounded(service: str, tmp_path: Path,
                                           keys_dir: Path) -> None:
    rt = build_service(service, tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None)
    params = paged_parameters(rt.http.openapi())
    assert params, f"{service} lists nothing?"
    for where, name, schema in params:
        assert schema.get("minimum") is not None, (where, name, schema)
        assert schema.get("maximum") is not None, (where, name, schema)
        assert schema["maximum"] <= MAX_OFFSET, (where, name, schema)
