"""docker-compose.yml, the Dockerfile and their config files, checked as files (Docker
cannot run here): structure, references, and that every setting set is a real setting."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.settings import (
    ROOT,
    SEALING_SERVICES,
    assert_production_safe,
    interpolate,
    owner_of,
    service_names,
    settings_of,
)

IMAGE = "lingshui/social-assistance"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_containers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Containers running our image (the others are nats, postgres, nginx, …)."""
    return {name: svc for name, svc in compose["services"].items()
            if IMAGE in interpolate(str(svc.get("image", "")))}


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def test_compose_runs_every_service_of_the_code_and_only_those(compose: dict[str, Any]) -> None:
    apps = app_containers(compose)
    commands = {name: svc["command"][0] for name, svc in apps.items()}
    assert sorted(commands.values()) == service_names() == sorted(apps)
    for name, command in commands.items():
        assert name == command and (ROOT / "services" / command / "main.py").exists()
    for infra in ("nats", "postgres", "gateway", "otel-collector"):
        assert infra in compose["services"], f"{infra} missing"


@pytest.mark.parametrize("name", service_names())
def test_every_environment_variable_is_a_real_setting_with_a_valid_value(
        compose: dict[str, Any], name: str) -> None:
    env = environment(app_containers(compose)[name])
    assert env, f"{name} sets no environment"
    settings = settings_of(name)
    for var in env:
        assert owner_of(var) == name, f"{name}: {var} carries another service's prefix or none"
        assert settings.field_for(var), f"{name}: {var} is not a field of {settings.cls.__name__}"
    built = settings.build(env)  # types and literals validate as at start-up
    assert_production_safe(name, built)
    assert built.stream_replicas == 1  # one NATS node in compose
    assert built.http_port == 8080


def test_production_safe_values_point_at_mounted_secrets(compose: dict[str, Any]) -> None:
    defined = compose["secrets"]
    for name, svc in app_containers(compose).items():
        env = environment(svc)
        mounted = {f"/run/secrets/{s}" for s in svc.get("secrets", [])}
        for var in (f"{name.upper()}_CIPHER_KEY_FILE", f"{name.upper()}_KEYRING_FILE",
                    f"{name.upper()}_AUTH_PUBLIC_KEY_FILE", f"{name.upper()}_SIGNING_KEY_FILE",
                    f"{name.upper()}_TRUST_LIST_FILE", f"{name.upper()}_NATS_NKEY_SEED_FILE"):
            assert env[var] in mounted, f"{name}: {var}={env[var]} is not a mounted secret"
        assert env[f"{name.upper()}_CIPHER_KEY_FILE"] == f"/run/secrets/{name}-at-rest-key"
        for s in svc.get("secrets", []):
            assert s in defined, f"{name}: secret {s} is not defined"
        url = env[f"{name.upper()}_DATABASE_URL"]
        assert url.endswith(f"@postgres:5432/{name}"), f"{name}: its own database, {url}"
        assert env[f"{name.upper()}_NATS_URL"] == "nats://nats:4222"
        # No development shortcuts anywhere in a service's environment.
        assert not any("dev" in v.lower().split("-") for v in env.values())


def test_sealing_services_read_the_same_provisioned_seal_keys(
        compose: dict[str, Any]) -> None:
    sources = set()
    for name in SEALING_SERVICES:
        svc = compose["services"][name]
        env = environment(svc)
        target = env[f"{name.upper()}_SEAL_KEYS_DIR"]
        assert env[f"{name.upper()}_SEAL_KEYS_CREATE_MISSING"] == "false", name
        mounts = [interpolate(m).split(":") for m in svc.get("volumes") or []]
        mounted = [(src, mode) for src, dst, *mode in mounts if dst == target]
        assert len(mounted) == 1, f"{name}: {target} is not mounted"
        source, mode = mounted[0]
        assert mode == ["ro"], f"{name}: the seal keys are mounted read-only"
        assert source == "./deploy/compose/secrets/seals", f"{name}: {source}"
        sources.add(source)
    assert len(sources) == 1, "one township, one seal: every sealing service reads the same keys"


def test_references_resolve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    networks = set(compose.get("networks") or {})
    for name, svc in services.items():
        depends = svc.get("depends_on") or []
        for dep in depends:
            assert dep in services, f"{name} depends on unknown {dep}"
        for net in svc.get("networks") or []:
            assert net in networks, f"{name}: unknown network {net}"
        for mount in svc.get("volumes") or []:
            source = interpolate(mount).split(":", 1)[0]
            if source.startswith("./deploy/compose/secrets/"):
                continue  # the operator's key files (make_secrets.py), never in the repo
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in volumes, f"{name}: named volume {source} not declared"
    for secret in compose["secrets"].values():
        assert interpolate(secret["file"]).startswith("./deploy/compose/secrets/")


def test_postgres_creates_a_database_per_service(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]
    env = pg["environment"]
    assert env["LINGSHUI_SERVICES"].split() == list(service_names()) or \
        sorted(env["LINGSHUI_SERVICES"].split()) == service_names()
    for service in service_names():
        assert f"LINGSHUI_{service.upper()}_DB_PASSWORD" in env
    assert any("postgres-init.sh:/docker-entrypoint-initdb.d/" in v for v in pg["volumes"])
    assert "POSTGRES_PASSWORD_FILE" in env and "POSTGRES_PASSWORD" not in env


def test_gateway_routes_every_service_and_passes_the_token() -> None:
    conf = (ROOT / "deploy/compose/nginx.conf").read_text()
    for service in service_names():
        assert re.search(rf"upstream {service}\s*{{\s*server {service}:8080;", conf), service
        assert re.search(rf"location /api/{service}/\s*{{\s*proxy_pass http://{service}/;",
                         conf), service
    # nginx forwards request headers unless told otherwise: nothing may drop Authorization.
    assert not re.search(r"proxy_set_header\s+Authorization", conf, re.I)
    assert "proxy_pass_request_headers off" not in conf
    assert re.search(r"location ~ \^/api/\[\^/\]\+/ops", conf), "ops endpoints are internal"
    # …except the backlog and dead letters the operations guide sends operators to, for a
    # direct request from a private network: matched first (nginx tries regexes in order).
    ops = re.search(r"location ~ \^/api/\((?P<svcs>[a-z|]+)\)/ops/\(backlog\|dead-letters\)\$ "
                    r"\{(?P<body>.*?)\n    \}", conf, re.S)
    assert ops is not None and ops.start() < conf.index("location ~ ^/api/[^/]+/ops")
    assert sorted(ops["svcs"].split("|")) == service_names()
    body = ops["body"]
    assert "deny all;" in body and "allow 0.0.0.0" not in body and "if ($via_proxy)" in body
    assert "proxy_pass http://$1/ops/$2$is_args$args;" in body
    assert "/api/<service>/ops/backlog" in (ROOT / "docs/operations.md").read_text()
    assert "$http_authorization" not in conf  # never logged
    # Kubernetes mounts the same file.
    assert (ROOT / "deploy/k8s/gateway/nginx.conf").read_text() == conf


def test_otel_pipeline_is_complete_and_matches_the_services(compose: dict[str, Any]) -> None:
    for path in ("deploy/compose/otel-collector.yaml", "deploy/k8s/otel/config.yaml"):
        config = yaml.safe_load((ROOT / path).read_text())
        for pipeline in config["service"]["pipelines"].values():
            for kind in ("receivers", "processors", "exporters"):
                for component in pipeline[kind]:
                    assert component in config[kind], f"{path}: {kind} {component} undefined"
        assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    for name, svc in app_containers(compose).items():
        assert environment(svc)[f"{name.upper()}_OTLP_ENDPOINT"] == \
            "http://otel-collector:4318/v1/traces"


def test_copies_shared_by_compose_and_kubernetes_are_identical() -> None:
    pairs = [("deploy/nats/cluster.conf", "deploy/k8s/nats/cluster.conf"),
             ("deploy/compose/postgres-init.sh", "deploy/k8s/postgres/init.sh"),
             ("deploy/compose/nginx.conf", "deploy/k8s/gateway/nginx.conf")]
    for a, b in pairs:
        assert (ROOT / a).read_bytes() == (ROOT / b).read_bytes(), f"{b} differs from {a}"


def test_dockerfile_builds_one_image_with_the_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY deploy/compose/entrypoint.sh /usr/local/bin/lingshui" in dockerfile
    assert 'ENTRYPOINT ["/usr/local/bin/lingshui"]' in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.M), "the image runs unprivileged"
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for source in copied.split():
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for secret_dir in ("deploy/k8s/secrets/", "deploy/compose/secrets/", "var/", "**/.venv"):
        assert secret_dir in ignored, f"{secret_dir} must never enter the build context"


@pytest.mark.parametrize("service", service_names())
def test_entrypoint_starts_the_named_service(service: str) -> None:
    out = subprocess.run(["sh", str(ROOT / "deploy/compose/entrypoint.sh"), service],
                         env={**os.environ, "PYTHON": "echo"}, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["-m", f"services.{service}"]


def test_entrypoint_refuses_what_it_does_not_know() -> None:
    env = {**os.environ, "PYTHON": "echo"}
    entry = str(ROOT / "deploy/compose/entrypoint.sh")
    gateway = subprocess.run(["sh", entry, "gateway"], env=env, capture_output=True, text=True)
    assert gateway.stdout.split() == ["-m", "deploy.gateway"]
    for argv in (["intake;rm"], ["rebuild-projections", "nope"], []):
        out = subprocess.run(["sh", entry, *argv], env=env, capture_output=True, text=True)
        assert out.returncode == 64 and "usage" in out.stderr, argv


def test_make_secrets_writes_private_usable_keys_once(tmp_path: Path) -> None:
    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    from shared.fieldcrypt import Keyring

    script = ROOT / "deploy/compose/make_secrets.py"
    run = [sys.executable, str(script), str(tmp_path / "s")]
    subprocess.run(run, check=True, capture_output=True)
    def files() -> dict[str, bytes]:
        root = tmp_path / "s"
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    made = files()
    for service in service_names():
        for suffix in ("at-rest.key", "db-password", "database-url"):
            assert f"{service}-{suffix}" in made
        key = made[f"{service}-at-rest.key"].decode()
        cipher = AESCipher(Environment(env={"CIPHER_KEY": key}))
        assert cipher.decrypt(cipher.encrypt(b"dibao")) == b"dibao"
        password = made[f"{service}-db-password"].decode()
        assert re.fullmatch(r"[0-9a-f]{48}", password)  # URL-safe in a database URL
        assert made[f"{service}-database-url"].decode() == \
            f"postgresql+psycopg://{service}:{password}@postgres:5432/{service}"
    assert Keyring.from_json(made["bus-keyring.json"].decode()).current_kid == "bus-1"
    from shared import ses
    from shared.regions import load_county
    from shared.seals import TrustList, key_id_of

    county = load_county("469028")
    trust = TrustList.from_wire(json.loads(made["seals/trust-list.json"]))
    for owner in (county.code, *(t.code for t in county.townships)):
        key = ses.load_private_pem(made[f"seals/{owner}.sm2.pem"])  # SM2, the default
        listed = trust.current(owner, "sm2")
        assert listed is not None and listed.key_id == key_id_of(ses.public_der(key))
    for p in (tmp_path / "s").rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p.name
    subprocess.run(run, check=True, capture_output=True)  # a second run changes nothing
    assert files() == made


@pytest.mark.postgres
def test_postgres_init_script_makes_closed_databases_idempotently(
        postgres_admin_url: str) -> None:
    import sqlalchemy as sa

    url = sa.make_url(postgres_admin_url)
    names = ["zz_deploy_a", "zz_deploy_b"]
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432),
           "POSTGRES_USER": url.username or "postgres", "POSTGRES_DB": url.database or "postgres",
           "LINGSHUI_SERVICES": " ".join(names),
           "LINGSHUI_ZZ_DEPLOY_A_DB_PASSWORD": "a'; drop table x; --",
           "LINGSHUI_ZZ_DEPLOY_B_DB_PASSWORD": "b"}
    if url.password:
        env["PGPASSWORD"] = url.password
    script = str(ROOT / "deploy/compose/postgres-init.sh")
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    try:
        for _ in range(2):  # the second run finds everything in place
            out = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
        with admin.connect() as c:
            rows = c.execute(sa.text(
                "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database "
                "WHERE datname LIKE 'zz_deploy_%' ORDER BY 1")).all()
        assert [(r[0], r[1]) for r in rows] == [(n, n) for n in names]
        for name, _, acl in rows:
            assert acl == f"{{{name}=CTc/{name}}}", "only the owner may connect"
        missing = {**env, "LINGSHUI_SERVICES": "zz_deploy_c"}
        out = subprocess.run(["sh", script], env=missing, capture_output=True, text=True)
        assert out.returncode == 1 and "LINGSHUI_ZZ_DEPLOY_C_DB_PASSWORD" in out.stderr
    finally:
        with admin.connect() as c:
            for n in names:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
                c.execute(sa.text(f'DROP ROLE IF EXISTS "{n}"'))
        admin.dispose()
