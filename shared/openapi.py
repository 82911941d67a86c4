"""The API contract, once for every service: what FastAPI derives from the routes, completed
from the routes themselves and from each service's catalogue (shared/data/api/<service>.yaml).

- bearer security and the roles that may call, read from the `require(...)` dependencies;
- the `Idempotency-Key` header on every POST;
- problem+json error responses (one `Problem` schema) with the status codes the operation
  can return, derived from what it takes (token, path, query, body);
- bilingual summaries, descriptions, tags and file media types from the catalogue;
- `merge`: the five specs as one, each service's paths under /api/<service>;
- the docs page, with Swagger UI served from the installed `fastapi-offline` assets.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import fastapi.routing
import fastapi_offline
import yaml
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from shared.auth import ROLE_LABELS, Role, roles_of

# The contract's version: bump it whenever the merged spec changes shape (paths, methods,
# parameters, schemas, status codes); tests/contract/test_openapi.py holds the snapshot to it.
API_VERSION = "1.6.0"

CATALOGUES = Path(__file__).parent / "data" / "api"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
PROBLEM = "application/problem+json"
JSON = "application/json"
METHODS = ("get", "put", "post", "delete", "patch")
FILE_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "ses": "application/octet-stream",  # a seal (GB/T 38540 DER, or an Ed25519 seal's JSON)
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details. `code` is the stable rule code; `field` names "
                   "the offending input; `errors` lists every failed field rule.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "example": "urn:lingshui:problem:web.validation"},
        "title": {"type": "string", "example": "web.validation"},
        "status": {"type": "integer", "example": 422},
        "code": {"type": "string", "example": "web.validation"},
        "detail": {"type": "string", "example": "members[0].resident_id: string_too_short"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "field": {"type": ["string", "null"], "example": "members[0].resident_id"},
        "errors": {"type": "array", "items": {
            "type": "object", "properties": {"field": {"type": "string"},
                                             "rule": {"type": "string"},
                                             "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}

# Why each status can come back: the description of each error response.
ERRORS = {
    400: "malformed request (JSON that does not parse, a bad header) 请求格式错误",
    401: "missing, expired or forged bearer token 未认证",
    403: "the caller's role or jurisdiction may not do this 无权限",
    404: "no such record, or not visible to the caller 不存在",
    409: "concurrent change, or an Idempotency-Key reused with another body 冲突",
    413: "request body too large 请求体过大",
    415: "the uploaded file's type is not accepted 文件类型不支持",
    422: "a field or business rule says no; `field` and `code` name it 校验或业务规则不通过",
    429: "too many requests from this client 请求过于频繁",
    503: "not ready: a dependency is failing 未就绪",
}

UNNAMED: dict[str, Any] = {"type": "object", "additionalProperties": True}

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "1-128 characters. A retry with the same key returns the first answer "
                   "and writes nothing; the same key with another body is a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    "example": "3f2c8a9e-6d1b-4c55-9d1e-5b7a0c2e4f10",
}


def _load(name: str) -> dict[str, Any]:
    path = CATALOGUES / f"{name}.yaml"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def _for_service(value: Any, service: str) -> Any:
    """The shared catalogue's `$service` placeholders, as this service says them."""
    if isinstance(value, str):
        return value.replace("$service", service)
    if isinstance(value, dict):
        return {k: _for_service(v, service) for k, v in value.items()}
    if isinstance(value, list):
        return [_for_service(v, service) for v in value]
    return value


@cache
def catalogue(service: str) -> dict[str, Any]:
    """The service's catalogue over the one every service shares (health, ops)."""
    common, own = _for_service(_load("common"), service), _load(service)
    return {key: {**(common.get(key) or {}), **(own.get(key) or {})}
            for key in ("tags", "operations")}


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": ERRORS.get(status, "error"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _errors_for(route: Any, op: dict[str, Any], secured: bool) -> set[int]:
    params = {p.get("in") for p in op.get("parameters", [])}
    body = "requestBody" in op
    codes: set[int] = set()
    if secured:
        codes |= {401, 403}
    if "path" in params:
        codes.add(404)
    if params or body or route.dependant.query_params:
        codes.add(422)
    if body:
        codes |= {400, 413}
    if "POST" in route.methods:
        codes |= {400, 404, 409, 422}
    return codes


def _media(kinds: str | list[str]) -> list[str]:
    return [FILE_TYPES[k] for k in ([kinds] if isinstance(kinds, str) else kinds)]


def _file_response(*media: str) -> dict[str, Any]:
    return {"description": "the file", "content": {
        m: {"schema": {"type": "string", "format": "binary"}} for m in media}}


def api_routes(routes: Any) -> Any:
    """Every API route with its effective path and dependencies, on FastAPI releases that
    copy included routes and on those (0.16x) that keep them in included routers."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        yield from (r for r in routes if isinstance(r, APIRoute))
        return
    for context in iterate(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def describe(app: FastAPI, service: str) -> dict[str, Any]:
    """The service's own spec, completed; paths as the service serves them."""
    spec = get_openapi(title=app.title, version=API_VERSION, routes=app.routes,
                       description=f"Lingshui social assistance, {service} service. "
                                   "Errors are application/problem+json.")
    book = catalogue(service)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    spec["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An EdDSA/ES256/RS256 JWT from the county's identity provider with "
                       "`role` (and `township`/`village` for township roles)."}}
    used_tags: set[str] = set()
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            op = spec["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            _complete(op, route, method, book["operations"].get(f"{method} {route.path_format}"))
            used_tags |= set(op.get("tags", []))
    spec["tags"] = [{"name": t, "description": book["tags"].get(t, "")} for t in sorted(used_tags)]
    return spec


def _complete(op: dict[str, Any], route: Any, method: str,
              entry: dict[str, Any] | None) -> None:
    roles = roles_of(route.dependant)
    secured = roles is not None
    entry = entry or {}
    if entry.get("zh") and entry.get("en"):
        op["summary"] = f"{entry['zh']} / {entry['en']}"
    else:
        op.pop("summary", None)  # FastAPI's made-up one: the completeness test names it
    text = entry.get("description") or route.description or ""
    if secured:
        who = ", ".join(f"`{r.value}` {ROLE_LABELS[r]}" for r in sorted(roles))
        text = f"{text}\n\n**Roles 可调用角色:** {who}".strip()
        op["security"] = [{"bearer": []}]
        op["x-roles"] = sorted(r.value for r in roles)
    else:
        op["security"] = []
        text = f"{text}\n\n**No token needed 无需令牌.**".strip() if text else ""
    if text:
        op["description"] = text
    else:
        op.pop("description", None)
    if entry.get("tags"):
        op["tags"] = list(entry["tags"])
    if method == "POST" and not any(p.get("name", "").lower() == "idempotency-key"
                                    for p in op.get("parameters", [])):
        op.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
    responses = op.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's HTTPValidationError: the API answers problem+json
    for status, response in responses.items():
        if status.startswith("2") and not any(
                m.get("schema") for m in response.get("content", {}).values()):
            # A command answering through run_command without a response_model: JSON, an
            # object; the completeness check still asks for a named model.
            response["content"] = {"application/json": {"schema": dict(UNNAMED)}}
    ok = next((s for s in responses if s.startswith("2")), "200")
    if entry.get("file"):
        responses[ok] = _file_response(*_media(entry["file"]))
    if entry.get("also_file"):
        responses.setdefault(ok, {"description": "done"}).setdefault("content", {}).update(
            _file_response(*_media(entry["also_file"]))["content"])
    if entry.get("example") is not None and "requestBody" in op:
        for media in op["requestBody"].get("content", {}).values():
            media["example"] = entry["example"]
    if entry.get("response_example") is not None:
        ok = next((s for s in responses if s.startswith("2")), None)
        if ok is not None and JSON in responses[ok].get("content", {}):
            # The JSON answer's: a file the same operation can answer with is not it.
            responses[ok]["content"][JSON]["example"] = entry["response_example"]
    for status in sorted(_errors_for(route, op, secured) | set(entry.get("errors", []))):
        responses.setdefault(str(status), _problem_response(status))


def serve_docs(app: FastAPI, service: str) -> None:
    """/openapi.json (servers from X-Forwarded-Prefix, set by the gateway and nginx) and a
    /docs page whose every URL is relative, so it works at /docs and at /api/<svc>/docs."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        spec = copy.copy(app.openapi())
        spec["servers"] = [{"url": forwarded_prefix(request) or "/"}]
        return JSONResponse(spec)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return docs_page(app.title)

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")


_PREFIX = re.compile(r"^(/[A-Za-z0-9._-]+)+$")


def forwarded_prefix(request: Request) -> str | None:
    prefix = request.headers.get("x-forwarded-prefix", "").rstrip("/")
    return prefix if _PREFIX.match(prefix) else None


GATEWAY_DOCS_TITLE = "Lingshui social assistance API"  # /api/docs, at either gateway


def docs_page(title: str) -> HTMLResponse:
    """Swagger UI, all from this server: works on a network with no internet."""
    html = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="docs/assets/favicon.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, displayRequestDuration: true}});</script>
</body></html>"""
    return HTMLResponse(html)


def merge(specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One spec for the gateway: each service's paths under /api/<service>, its tags and
    operation ids prefixed by the service, schemas shared when identical, else renamed."""
    owners: dict[str, dict[str, Any]] = {}
    for service, spec in specs.items():
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            owners.setdefault(name, {})[service] = schema
    shared_names = {n for n, by in owners.items()
                    if len({json.dumps(s, sort_keys=True) for s in by.values()}) == 1}

    def schema_name(service: str, name: str) -> str:
        return name if name in shared_names else f"{service.capitalize()}{name}"

    out: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Lingshui social assistance API 陵水社会救助审核确认",
                 "version": API_VERSION,
                 "description": "Every service behind the gateway, each under /api/<service>. "
                                "Authenticate with a bearer JWT; errors are "
                                "application/problem+json with a stable `code`."},
        "servers": [{"url": "/"}],
        "paths": {}, "tags": [],
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for service, spec in sorted(specs.items()):
        def ref(m: re.Match[str], service: str = service) -> str:
            return f'"#/components/schemas/{schema_name(service, m.group(1))}"'

        raw = re.sub(r'"#/components/schemas/([^"]+)"', ref, json.dumps(spec))
        spec = json.loads(raw)
        for path, item in spec.get("paths", {}).items():
            for method, op in item.items():
                if method in METHODS:
                    # The gateway itself refuses a path it cannot forward (a control
                    # character, a malformed Content-Length) before any service sees it.
                    op.setdefault("responses", {}).setdefault("400", _problem_response(400))
                    op["tags"] = [f"{service} · {t}" for t in op.get("tags", [service])]
                    if "operationId" in op:
                        op["operationId"] = f"{service}_{op['operationId']}"
            out["paths"][f"/api/{service}{path}"] = item
        out["tags"] += [{**t, "name": f"{service} · {t['name']}"} for t in spec.get("tags", [])]
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            out["components"]["schemas"][schema_name(service, name)] = schema
        out["components"]["securitySchemes"].update(
            spec.get("components", {}).get("securitySchemes", {}))
    return out


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in spec.get("paths", {}).items()
            for method, op in item.items() if method in METHODS]


def _named(response: dict[str, Any]) -> bool:
    for media, content in response.get("content", {}).items():
        schema = content.get("schema", {})
        if media != "application/json":
            continue
        if "$ref" not in schema and not (schema.get("type") == "array"
                                         and "$ref" in schema.get("items", {})):
            return False
    return True


def _has_examples(op: dict[str, Any]) -> bool:
    """A request example where the operation takes a body, and a response example on each
    application/json success response: what a client developer copies first."""
    def shown(media: dict[str, Any]) -> bool:
        return media.get("example") is not None or bool(media.get("examples"))

    body = op.get("requestBody", {}).get("content", {})
    if not all(shown(m) for m in body.values()):
        return False
    return all(shown(r["content"]["application/json"])
               for s, r in op.get("responses", {}).items()
               if s.startswith("2") and "application/json" in r.get("content", {}))


def gaps(spec: dict[str, Any]) -> list[str]:
    """Every operation that misses a part of the contract, named: `METHOD path: what`."""
    out = []
    for method, path, op in operations(spec):
        missing = []
        summary = op.get("summary", "")
        if not (" / " in summary and re.search(r"[\u4e00-\u9fff]", summary)):
            missing.append("bilingual summary (zh/en in shared/data/api/<service>.yaml)")
        prose = re.sub(r"\*\*(Roles|No token).*", "", op.get("description", ""), flags=re.S)
        if not prose.strip():  # the roles line alone is not a description
            missing.append("description")
        if not op.get("tags"):
            missing.append("tags")
        ok = [r for s, r in op.get("responses", {}).items() if s.startswith("2")]
        if not ok or not all(any(m.get("schema") for m in r.get("content", {}).values())
                             for r in ok):
            missing.append("success response schema")
        elif not all(_named(r) for r in ok):
            missing.append("named response model")
        errors = {s for s in op.get("responses", {}) if s[0] == "4"}
        takes_input = op.get("security") or op.get("parameters") or op.get("requestBody")
        if (takes_input and not errors) or not all(
                PROBLEM in op["responses"][s].get("content", {}) for s in errors):
            missing.append("problem+json error responses")
        if op.get("security") and not op.get("x-roles"):
            missing.append("roles")
        if method == "POST" and not any(p.get("name") == "Idempotency-Key"
                                        for p in op.get("parameters", [])):
            missing.append("Idempotency-Key header")
        if not _has_examples(op):
            missing.append("example")
        if missing:
            out.append(f"{method} {path}: missing {', '.join(missing)}")
    return out


__all__ = ["API_VERSION", "Role", "describe", "docs_page", "gaps", "merge", "serve_docs", "shape"]


_TEXT = {"summary", "description", "example", "examples", "title"}


def shape(spec: dict[str, Any]) -> Any:
    """The spec without its prose (summaries, descriptions, examples, titles, tag lists):
    what a generated client depends on. A change here needs an `API_VERSION` bump."""
    def strip(node: Any, key: str | None = None) -> Any:
        if isinstance(node, dict):
            if key == "properties":  # property names are shape, whatever they are called
                return {k: strip(v) for k, v in node.items()}
            return {k: strip(v, k) for k, v in node.items()
                    if k not in _TEXT and k != "tags"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    body = {k: v for k, v in spec.items() if k not in ("info", "tags")}
    return strip(body)
