"""deploy/k8s (Kustomize), checked as files because no cluster is available: every
reference resolves, selectors match labels, probes point at real paths, every Deployment
has 2+ replicas and a PodDisruptionBudget, and the settings are real and production-safe.

The checks run on the kustomization as written (a small reader below: resources plus
generators) and, where `kubectl` is installed, once more on `kubectl kustomize` output,
where generated names carry their hash suffixes."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.settings import (
    ROOT,
    SEALING_SERVICES,
    assert_production_safe,
    service_names,
    settings_of,
)

K8S = ROOT / "deploy/k8s"
WORKLOADS = ("Deployment", "StatefulSet")


class Kustomization:
    """The objects of deploy/k8s and the generators' names and keys."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    @classmethod
    def from_source(cls) -> Kustomization:
        k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        docs: list[dict[str, Any]] = []
        for resource in k["resources"]:
            docs += [d for d in yaml.safe_load_all((K8S / resource).read_text()) if d]
        for gen in k.get("configMapGenerator", []):
            data = dict(item.split("=", 1) for item in gen.get("literals", []))
            binary: dict[str, bytes] = {}  # not UTF-8: kustomize puts it in binaryData
            for f in gen.get("files", []):
                key, _, path = f.rpartition("=") if "=" in f else (Path(f).name, "", f)
                raw = (K8S / path).read_bytes()
                try:
                    data[key or Path(path).name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    binary[key or Path(path).name] = raw
            docs.append({"kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data,
                         **({"binaryData": binary} if binary else {})})
        for gen in k.get("secretGenerator", []):
            keys = {f.split("=", 1)[0] for f in gen.get("files", [])}
            docs.append({"kind": "Secret", "metadata": {"name": gen["name"]},
                         "type": gen.get("type", "Opaque"), "data": dict.fromkeys(keys, "")})
        return cls(docs)

    @classmethod
    def rendered(cls, tmp: Path) -> Kustomization:
        """`kubectl kustomize` on a copy with placeholder key files (the real ones are the
        operator's and never in the repository)."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            pytest.skip("kubectl not installed: the source-level checks still ran")
        copy = tmp / "k8s"
        shutil.copytree(K8S, copy)
        k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        for gen in k["secretGenerator"]:
            for f in gen["files"]:
                placeholder = copy / f.split("=", 1)[1]
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.write_text("placeholder\n")
        out = subprocess.run([kubectl, "kustomize", str(copy)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return cls([d for d in yaml.safe_load_all(out.stdout) if d])

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((d for d in self.of(kind) if d["metadata"]["name"] == name), None)

    def keys(self, kind: str, name: str) -> set[str]:
        obj = self.named(kind, name)
        assert obj is not None, f"{kind} {name} is referenced but not defined"
        return (set(obj.get("data") or {}) | set(obj.get("stringData") or {})
                | set(obj.get("binaryData") or {}))


@pytest.fixture(scope="module")
def source() -> Kustomization:
    return Kustomization.from_source()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Kustomization:
    return Kustomization.rendered(tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(params=["source", "rendered"])
def kz(request: pytest.FixtureRequest) -> Kustomization:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def is_app(workload: dict[str, Any]) -> bool:
    return any(c["image"].startswith("lingshui/social-assistance") for c in containers(workload))


# --- references ------------------------------------------------------------------------


def test_every_configmap_and_secret_reference_resolves(kz: Kustomization) -> None:
    for w in kz.of("Deployment") + kz.of("StatefulSet"):
        where = f"{w['kind']} {w['metadata']['name']}"
        for c in containers(w):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    kz.keys("ConfigMap", source["configMapRef"]["name"])
                if "secretRef" in source:
                    kz.keys("Secret", source["secretRef"]["name"])
            for var in c.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    r = ref["secretKeyRef"]
                    assert r["key"] in kz.keys("Secret", r["name"]), f"{where}: {r}"
                if "configMapKeyRef" in ref:
                    r = ref["configMapKeyRef"]
                    assert r["key"] in kz.keys("ConfigMap", r["name"]), f"{where}: {r}"
        mounted = {m["name"] for c in containers(w) for m in c.get("volumeMounts", [])}
        claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"]: v for v in pod_spec(w).get("volumes", [])}
        for name in mounted:
            assert name in volumes or name in claims, f"{where}: volume {name} undefined"
        for v in volumes.values():
            sources = [s for s in v.get("projected", {}).get("sources", [])]
            if "secret" in v:
                sources.append({"secret": {"name": v["secret"]["secretName"],
                                           "items": v["secret"].get("items", [])}})
            if "configMap" in v:
                sources.append({"configMap": v["configMap"]})
            for s in sources:
                for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                    if key in s:
                        have = kz.keys(kind, s[key]["name"])
                        for item in s[key].get("items", []):
                            assert item["key"] in have, f"{where}: {kind} item {item['key']}"


def test_services_select_pods_and_name_real_ports(kz: Kustomization) -> None:
    workloads = kz.of("Deployment") + kz.of("StatefulSet")
    for svc in kz.of("Service"):
        name = svc["metadata"]["name"]
        targets = [w for w in workloads
                   if matches(svc["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
        assert targets, f"Service {name} selects no pods"
        ports = {p.get("name") for w in targets for c in containers(w)
                 for p in c.get("ports", [])}
        ports |= {p["containerPort"] for w in targets for c in containers(w)
                  for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p.get("targetPort", p["port"]) in ports, f"Service {name}: port {p}"
    for ing in kz.of("Ingress"):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]["name"]
                assert kz.named("Service", backend), f"Ingress → unknown Service {backend}"
        for tls in ing["spec"].get("tls", []):
            assert kz.named("Secret", tls["secretName"])["type"] == "kubernetes.io/tls"
    for sts in kz.of("StatefulSet"):
        assert kz.named("Service", sts["spec"]["serviceName"]), sts["metadata"]["name"]


def test_selectors_match_their_templates(kz: Kustomization) -> None:
    for w in kz.of("Deployment") + kz.of("StatefulSet"):
        selector = w["spec"]["selector"]["matchLabels"]
        assert matches(selector, w["spec"]["template"]["metadata"]["labels"]), w["metadata"]


def test_every_deployment_has_replicas_a_pdb_probes_and_requests(kz: Kustomization) -> None:
    pdbs = kz.of("PodDisruptionBudget")
    for d in kz.of("Deployment"):
        name = d["metadata"]["name"]
        assert d["spec"]["replicas"] >= 2, f"{name}: 2+ replicas"
        labels = d["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if matches(p["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, f"{name}: exactly one PodDisruptionBudget"
        budget = covering[0]["spec"]
        assert budget.get("minAvailable", 0) >= 1 or budget.get("maxUnavailable") == 1
        assert budget.get("minAvailable", 0) < d["spec"]["replicas"], f"{name}: drainable"
        for c in containers(d):
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), f"{name}: requests"
            assert "readinessProbe" in c and "livenessProbe" in c, f"{name}: probes"
            ports = {p["name"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in c and "httpGet" in c[probe]:
                    assert c[probe]["httpGet"]["port"] in ports, f"{name}: {probe} port"


def test_service_probes_point_at_the_kernel_health_paths(kz: Kustomization) -> None:
    from fastapi.routing import APIRoute

    from shared.auth import TokenVerifier
    from shared.web import create_app

    app = create_app("probe", TokenVerifier(issuer="i", audience="a", jwks_url="http://x"))
    paths = {r.path for r in app.routes if isinstance(r, APIRoute)}
    apps = [d for d in kz.of("Deployment") if is_app(d)]
    assert sorted(d["metadata"]["name"] for d in apps) == service_names()
    for d in apps:
        c = next(containers(d))
        assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready" in paths
        assert c["livenessProbe"]["httpGet"]["path"] == "/health/live" in paths
        assert c["args"] == [d["metadata"]["name"]], "the image runs the service it is named"


@pytest.mark.parametrize("service", service_names())
def test_service_settings_are_real_and_production_safe(kz: Kustomization, service: str) -> None:
    settings = settings_of(service)
    for d in [kz.named("Deployment", service)]:
        assert d is not None and is_app(d), f"no Deployment runs {service}"
        c = next(containers(d))
        env: dict[str, str] = {}
        for source in c.get("envFrom", []):
            prefix = source.get("prefix", "")
            cm = kz.named("ConfigMap", source["configMapRef"]["name"])
            assert cm is not None
            env |= {prefix + k: v for k, v in cm["data"].items()}
        for var in c.get("env", []):
            env[var["name"]] = var.get("value", "postgresql+psycopg://from-secret@postgres/x")
        for var in env:
            assert settings.field_for(var), f"{service}: {var} is not a setting"
        built = settings.build(env)
        assert_production_safe(service, built)
        assert built.stream_replicas == 3, "R3 streams on the 3-node cluster"
        # Every key file a setting names is a file projected into the pod.
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_spec(d)["volumes"]}
        for field in ("cipher_key_file", "keyring_file", "auth_public_key_file",
                      "signing_key_file", "trust_list_file", "nats_nkey_seed_file"):
            path = str(getattr(built, field))
            mount = next(m for m in mounts if path.startswith(m + "/"))
            rel = path[len(mount) + 1:]
            items = [i["path"] for s in volumes[mounts[mount]]["projected"]["sources"]
                     for i in s["secret"]["items"]]
            assert rel in items, f"{service}: {field}={path} is not mounted"
        keys_of_own_secret = [s["secret"]["name"] for s in
                              volumes[mounts["/run/secrets/lingshui"]]["projected"]["sources"]]
        assert any(n.startswith(f"{service}-keys") for n in keys_of_own_secret)
        assert not any(n.startswith(f"{o}-keys") for n in keys_of_own_secret
                       for o in service_names() if o != service), "only its own at-rest key"


def test_nats_is_a_three_node_jetstream_cluster(kz: Kustomization) -> None:
    nats = kz.named("StatefulSet", "nats")
    assert nats is not None and nats["spec"]["replicas"] == 3
    c = next(containers(nats))
    env = {e["name"]: e.get("value") for e in c["env"]}
    headless = nats["spec"]["serviceName"]
    assert kz.named("Service", headless)["spec"]["clusterIP"] == "None"
    routes = sorted(v for k, v in env.items() if k.startswith("NATS_ROUTE_"))
    assert routes == [f"nats://nats-{i}.{headless}:6222" for i in range(3)]
    conf = next(v for v in kz.of("ConfigMap") if "cluster.conf" in (v.get("data") or {}))
    text = conf["data"]["cluster.conf"]
    for var in ("NATS_SERVER_NAME", "NATS_ROUTE_0", "NATS_ROUTE_2", "NATS_STORE_DIR"):
        assert f"${var}" in text and var in env, var
    pdb = next(p for p in kz.of("PodDisruptionBudget")
               if p["spec"]["selector"]["matchLabels"] == nats["spec"]["selector"]["matchLabels"])
    assert pdb["spec"]["maxUnavailable"] == 1, "never two of three nodes at once"
    common = next(v for v in kz.of("ConfigMap") if "STREAM_REPLICAS" in (v.get("data") or {}))
    assert common["data"]["STREAM_REPLICAS"] == "3"
    assert common["data"]["NATS_URL"] == "nats://nats:4222"


def test_postgres_has_a_database_per_service(kz: Kustomization) -> None:
    pg = kz.named("StatefulSet", "postgres")
    assert pg is not None
    env = {e["name"]: e for e in next(containers(pg))["env"]}
    assert sorted(env["LINGSHUI_SERVICES"]["value"].split()) == service_names()
    for service in service_names():
        assert f"LINGSHUI_{service.upper()}_DB_PASSWORD" in env
    init = next(v for v in kz.of("ConfigMap") if "init.sh" in (v.get("data") or {}))
    assert init["data"]["init.sh"] == (ROOT / "deploy/compose/postgres-init.sh").read_text()


def test_the_namespace_and_key_files_stay_out_of_the_repository() -> None:
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    ignore = [line for line in (K8S / "secrets/.gitignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore[0] == "*"
    for gen in k["secretGenerator"]:
        for f in gen["files"]:
            assert f.split("=", 1)[1].startswith("secrets/"), f
    for f in (K8S / "secrets").iterdir():
        assert f.name in (".gitignore", "README.md"), f"key material committed? {f}"


def test_sealing_services_seal_every_township_from_the_same_provided_keys(
        kz: Kustomization) -> None:
    from shared.regions import load_county

    county = load_county("469028")
    owners = {f"{o}.sm2.pem" for o in (county.code, *(t.code for t in county.townships))}
    owners.add("trust-list.json")  # verification believes only the county's trust list
    secrets = set()
    for service in SEALING_SERVICES:
        d = kz.named("Deployment", service)
        assert d is not None
        c = next(containers(d))
        env = {e["name"]: e.get("value") for e in c["env"]}
        target = env[f"{service.upper()}_SEAL_KEYS_DIR"]
        assert env[f"{service.upper()}_SEAL_KEYS_CREATE_MISSING"] == "false", service
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == target)
        assert mount.get("readOnly") is True, f"{service}: seal keys mounted read-only"
        volume = next(v for v in pod_spec(d)["volumes"] if v["name"] == mount["name"])
        secret = volume["secret"]["secretName"]
        assert kz.keys("Secret", secret) == owners, f"{service}: every owner's key, and the list"
        secrets.add(secret)
    assert len(secrets) == 1, "one township, one seal: every sealing service mounts the same keys"
