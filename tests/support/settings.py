"""What a deployment file may set: the env prefixes and fields of the real Settings classes.

`settings_of()` reads them from the code (services/<svc>/main.py `<Svc>Settings`, and
deploy/gateway.py `GatewaySettings`), so a renamed or removed setting breaks these tests
instead of being silently ignored by pydantic-settings at start-up.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from deploy.gateway import GatewaySettings
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
# Services that sign with the townships' electronic seals (shared/seals.py).
SEALING_SERVICES = ("disbursement", "archive")


def service_names() -> list[str]:
    """Every service that exists in the code: a package under services/ with a main.py."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/main.py"))


@dataclass(frozen=True)
class SettingsClass:
    name: str  # service name, or "gateway"
    cls: type[BaseSettings]

    @property
    def prefix(self) -> str:
        return str(self.cls.model_config.get("env_prefix", ""))

    def field_for(self, env_name: str) -> str | None:
        if not env_name.startswith(self.prefix):
            return None
        field = env_name[len(self.prefix):].lower()
        return field if field in self.cls.model_fields else None

    def build(self, env: dict[str, str]) -> BaseSettings:
        """Validate values as the process would (types, literals), without reading os.environ."""
        values: dict[str, Any] = {}
        for name, value in env.items():
            field = self.field_for(name)
            assert field is not None, f"{name} is not a setting of {self.name}"
            values[field] = value
        return self.cls.model_validate(values)


def settings_of(name: str) -> SettingsClass:
    """The Settings class of one service (imported from its main.py), or the gateway's."""
    if name == "gateway":
        return SettingsClass("gateway", GatewaySettings)
    module = importlib.import_module(f"services.{name}.main")
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, ServiceSettings)
               and v is not ServiceSettings]
    assert len(classes) == 1, f"services/{name}/main.py: one Settings class expected"
    return SettingsClass(name, classes[0])


def known_prefixes() -> dict[str, str]:
    """Env prefix → owner, from the naming rule every main.py follows (checked per service
    by `settings_of`), so one broken service does not hide the others' findings."""
    return {f"{s.upper()}_": s for s in service_names()} | {"GATEWAY_": "gateway"}


def owner_of(env_name: str) -> str | None:
    """The service (or gateway) whose prefix the variable carries (longest prefix wins)."""
    matches = [p for p in known_prefixes() if env_name.startswith(p)]
    return known_prefixes()[max(matches, key=len)] if matches else None


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose interpolation as a deployer without a .env would see it: defaults applied,
    required values (`:?`) replaced by a placeholder."""

    def one(m: re.Match[str]) -> str:
        op, arg = m.group(2), m.group(3)
        if op in (":-", "-"):
            return arg
        return "required-value"

    return _INTERPOLATION.sub(one, value)


def assert_production_safe(service: str, s: Any) -> None:
    """The brief's production defaults, checked on the Settings object a pod would build."""
    assert s.encrypt_at_rest is True, f"{service}: encryption at rest must be on"
    assert s.cipher_key_file is not None, f"{service}: the at-rest key must come from a file"
    assert s.auth_public_key_file is not None or s.auth_jwks_url, (
        f"{service}: tokens must be verified against a real key file or JWKS URL")
    assert s.auth_issuer != "lingshui-dev", f"{service}: the development issuer is for dev only"
    assert s.keyring_file is not None, f"{service}: the bus keyring must come from a file"
    assert s.database_url and s.database_url.startswith("postgresql+psycopg://"), (
        f"{service}: the event store must be PostgreSQL")
    assert s.http_host == "0.0.0.0", f"{service}: must listen on all interfaces in a container"
    assert s.telemetry_exporter == "otlp" and s.otlp_endpoint, f"{service}: telemetry otlp"
    assert s.nats_url.startswith("nats://") and "127.0.0.1" not in s.nats_url
    assert s.nats_nkey_seed_file is not None, f"{service}: its own NATS user (NKey seed file)"
    assert s.signing_key_file is not None and s.trust_list_file is not None, (
        f"{service}: envelope signing key and trust list are provisioned files")
    assert s.bus_keys_create_missing is False, (
        f"{service}: a replica must never invent its signing key or trust list")
    # Service-specific settings whose defaults suit only the embedded stack.
    if service == "review":
        assert s.seed_demo_policy is False, "review: demo policy figures are not the county's"
    if service == "publicity":
        assert s.trusted_proxy_hops >= 1, "publicity: behind the gateway, or one bucket for all"
        assert "127.0.0.0/8" not in s.trusted_proxies, (
            "publicity: trust the gateway's network, not loopback (no gateway there)")
        assert s.clock_shift_days == 0 and s.clock_speed == 1.0, "publicity: the real clock"
    if service in SEALING_SERVICES:
        assert s.seal_keys_dir is not None, f"{service}: seal keys made once, not per replica"
        assert s.seal_keys_create_missing is False, (
            f"{service}: a replica must never invent a township's seal key")
    if service == "archive":
        assert s.document_store == "s3" or s.documents_dir is not None
