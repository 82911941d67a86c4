"""The merged API contract without running anything: `python -m deploy.openapi [FILE]`
builds the five services' apps (throwaway keys, nothing started) and writes the spec the
gateway serves at /api/openapi.json (default: docs/openapi.json, the committed snapshot)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.auth import ensure_dev_keypair
from shared.contracts.common import SERVICES
from shared.openapi import merge
from shared.pii import Keyring
from shared.signing import TRUST_FILE, ensure_bus_keys, signing_key_path

SNAPSHOT = Path(__file__).parents[1] / "docs" / "openapi.json"


def service_spec(service: str, var: Path, keys: Path) -> dict[str, Any]:
    module = __import__(f"services.{service}.main", fromlist=["build"])
    cls = next(v for k, v in vars(module).items()
               if k.endswith("Settings") and k != "ServiceSettings")
    settings = cls(var_dir=var / service, database_url=None,
                   auth_public_key_file=keys / "jwt-ed25519.pub.pem",
                   keyring_file=keys / "bus-keyring.json",
                   signing_key_file=signing_key_path(keys, service),
                   trust_list_file=keys / TRUST_FILE)
    spec: dict[str, Any] = module.build(settings).http.openapi()
    return spec


def merged_spec() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        keys = var / "keys"
        ensure_dev_keypair(keys)
        Keyring.load_or_create(keys / "bus-keyring.json")
        ensure_bus_keys(keys, SERVICES)
        return merge({s: service_spec(s, var, keys) for s in SERVICES})


def write(spec: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(spec, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else SNAPSHOT
    write(merged_spec(), path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
