"""nginx (deploy/compose/nginx.conf, the same file in Kubernetes) serves the merged API
contract at /api/openapi.json, its Swagger UI page at /api/docs and the page's assets, as
the python gateway does (issue 20). nginx cannot merge specs: it serves the release's, the
files `python -m deploy.openapi` writes from the code (deploy/k8s/gateway/api-docs), which
compose and Kubernetes mount. Where an nginx binary is at hand (`nginx` on PATH, or
LINGSHUI_NGINX), a real nginx runs the real file, its upstreams pointed at a running
intake service."""

from __future__ import annotations

import base64
import gzip
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn
import yaml

from deploy.openapi import NGINX_DOCS, SNAPSHOT, nginx_docs_page
from shared.contracts.common import SERVICES
from shared.openapi import ASSETS
from tests.support.settings import ROOT
from tests.support.stack import build_service

CONF = ROOT / "deploy/compose/nginx.conf"
MOUNT = "/etc/nginx/api-docs"
ANNOTATION_LIMIT = 256 * 1024  # what `kubectl apply` keeps of an object (last-applied)


def page_urls() -> list[str]:
    """The page's URLs as a browser resolves them at /api/docs."""
    page = nginx_docs_page()
    found = re.findall(r'(?:href|src)="([^"]+)"', page) + re.findall(r'url: "([^"]+)"', page)
    return [urljoin("/api/docs", u) for u in found]


def test_nginx_serves_the_files_deploy_openapi_writes() -> None:
    spec = gzip.decompress((NGINX_DOCS / "openapi.json.gz").read_bytes())
    assert spec == SNAPSHOT.read_bytes(), "refresh: .venv/bin/python -m deploy.openapi"
    assert (NGINX_DOCS / "index.html").read_text(encoding="utf-8") == nginx_docs_page()
    assert sorted(p.name for p in NGINX_DOCS.iterdir()) == ["index.html", "openapi.json.gz"]
    # As a ConfigMap's binaryData (base64) it stays under what `kubectl apply` can keep.
    size = sum(len(base64.b64encode(p.read_bytes())) for p in NGINX_DOCS.iterdir())
    assert size < ANNOTATION_LIMIT // 2, size


def test_the_config_answers_every_url_of_the_page() -> None:
    conf = CONF.read_text()
    assert sorted(page_urls()) == ["/api/docs/assets/favicon.png",
                                   "/api/docs/assets/swagger-ui-bundle.js",
                                   "/api/docs/assets/swagger-ui.css", "/api/openapi.json"]
    spec = re.search(r"location = /api/openapi\.json \{(?P<b>.*?)\n    \}", conf, re.S)
    assert spec is not None and f"alias {MOUNT}/openapi.json;" in spec["b"]
    assert "gzip_static always;" in spec["b"] and "gunzip on;" in spec["b"]
    assert "default_type application/json;" in spec["b"]
    page = re.search(r"location = /api/docs \{(?P<b>.*?)\n    \}", conf, re.S)
    assert page is not None and f"alias {MOUNT}/index.html;" in page["b"]
    assert "default_type text/html;" in page["b"]
    # ^~: no regex location (the /ops guards) is tried for the assets.
    assert re.search(r"location \^~ /api/docs/assets/ \{ proxy_pass http://intake/docs/assets/; \}",
                     conf)


def test_compose_and_kubernetes_mount_the_files_where_nginx_reads_them() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert f"./deploy/k8s/gateway/api-docs:{MOUNT}:ro" in compose["services"]["gateway"][
        "volumes"]
    k = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    gen = next(g for g in k["configMapGenerator"] if g["name"] == "gateway-api-docs")
    assert sorted(gen["files"]) == ["gateway/api-docs/index.html",
                                    "gateway/api-docs/openapi.json.gz"]
    deployment = next(d for d in yaml.safe_load_all(
        (ROOT / "deploy/k8s/gateway/gateway.yaml").read_text()) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name")
                  == "gateway-api-docs")
    mounts = [m for c in pod["containers"] for m in c["volumeMounts"]
              if m["name"] == volume["name"]]
    assert [(m["mountPath"], m.get("readOnly")) for m in mounts] == [(MOUNT, True)]


# --- a real nginx ------------------------------------------------------------------------


def nginx_binary() -> str:
    found = os.environ.get("LINGSHUI_NGINX") or shutil.which("nginx")
    if not found and os.environ.get("CI") == "true":
        pytest.fail("CI=true requires nginx: .ci/run unpacks Debian's (LINGSHUI_NGINX)")
    if not found:
        pytest.skip("no nginx binary (set LINGSHUI_NGINX): the file checks above still ran")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes] | None = None,
             timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"nginx ended: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def intake_port(tmp_path: Path, keys_dir: Path) -> Iterator[int]:
    """The intake service's HTTP app on a real port (not started: docs need no bus)."""
    rt = build_service("intake", tmp=tmp_path / "intake", keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(rt.http, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(port)
    yield port
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def nginx(tmp_path: Path, intake_port: int) -> Iterator[str]:
    """The real config, changed only where this machine differs: upstream addresses, the
    listening port, the pid and temp paths, and where the docs are mounted."""
    binary = nginx_binary()
    port = free_port()
    conf = CONF.read_text()
    for service in SERVICES:
        conf = conf.replace(f"server {service}:8080;", f"server 127.0.0.1:{intake_port};")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("/tmp/", f"{tmp_path}/").replace(f"{MOUNT}/", f"{NGINX_DOCS}/")
    if os.geteuid() == 0:  # else the workers run as nobody, who cannot enter tmp_path
        conf = "user root;\n" + conf
    (tmp_path / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-e", "stderr", "-c",
                             str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_real_nginx_serves_the_spec_the_page_and_its_assets(nginx: str) -> None:
    snapshot = SNAPSHOT.read_bytes()
    r = httpx.get(nginx + "/api/openapi.json")  # httpx accepts gzip and unzips
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-encoding"] == "gzip" and r.content == snapshot
    plain = httpx.get(nginx + "/api/openapi.json", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == snapshot
    page = httpx.get(nginx + "/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == nginx_docs_page()
    for url in page_urls():
        r = httpx.get(nginx + url)
        assert r.status_code == 200, url
        if url.startswith("/api/docs/assets/"):
            assert r.content == (ASSETS / url.rsplit("/", 1)[1]).read_bytes(), url
    # A service's own docs still go to the service, with its prefix; others stay 404.
    spec = httpx.get(nginx + "/api/intake/openapi.json").json()
    assert spec["servers"] == [{"url": "/api/intake"}]
    assert httpx.get(nginx + "/api/unknown/x").json()["code"] == "gateway.unknown_service"
