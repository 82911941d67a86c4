"""The merged API contract without running anything: `python -m deploy.openapi [FILE]`
builds the five services' apps (throwaway keys, nothing started) and writes the spec the
gateway serves at /api/openapi.json (default: docs/openapi.json, the committed snapshot,
and nginx's copy of it with the docs page, deploy/k8s/gateway/api-docs: nginx cannot merge
specs, so it serves the release's)."""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.auth import ensure_dev_keypair
from shared.contracts.common import SERVICES
from shared.openapi import GATEWAY_DOCS_TITLE, docs_page, merge
from shared.pii import Keyring
from shared.signing import TRUST_FILE, ensure_bus_keys, signing_key_path

SNAPSHOT = Path(__file__).parents[1] / "docs" / "openapi.json"
# Under deploy/k8s because kustomize reads files only below its root; compose mounts it too.
NGINX_DOCS = Path(__file__).parent / "k8s" / "gateway" / "api-docs"


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


def nginx_docs_page() -> str:
    return bytes(docs_page(GATEWAY_DOCS_TITLE).body).decode("utf-8")


def text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write(spec: dict[str, Any], path: Path) -> None:
    path.write_text(text(spec), encoding="utf-8")


def write_nginx_docs(spec: dict[str, Any], directory: Path = NGINX_DOCS) -> None:
    """nginx's /api/openapi.json and /api/docs (deploy/compose/nginx.conf). The spec is
    gzipped (nginx's gzip_static): plain, it would pass the 256 KiB that `kubectl apply`
    can keep of a ConfigMap in its last-applied annotation. mtime 0: the same bytes each
    time it is written."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "openapi.json.gz").write_bytes(
        gzip.compress(text(spec).encode("utf-8"), compresslevel=9, mtime=0))
    (directory / "index.html").write_text(nginx_docs_page(), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else SNAPSHOT
    spec = merged_spec()
    write(spec, path)
    print(f"wrote {path}")
    if not args:
        write_nginx_docs(spec)
        print(f"wrote {NGINX_DOCS}")


if __name__ == "__main__":
    main()
