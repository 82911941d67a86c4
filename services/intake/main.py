"""Composition root of intake: `python -m services.intake`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic_settings import SettingsConfigDict

from services.intake import api
from services.intake.application import DEFAULT_UNMASK_ROLES, IntakeApplication
from services.intake.contracts import IntakeContracts
from services.intake.domain import PolicyBook
from services.intake.reactions import reactions
from shared.auth import Role
from shared.pii import Keyring
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

# Shared data: publicity serves the same checklist to the public.
SHIPPED_POLICY = Path(__file__).parents[2] / "shared" / "data" / "policy" / "intake.yaml"


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")
    service: str = "intake"
    http_port: int = 8701
    # Checklists, ages and guards: versioned policy data (INTAKE_POLICY_FILE overrides).
    policy_file: Path = SHIPPED_POLICY
    # Roles that may ask for unmasked ID numbers, bank accounts and phones (each view is an
    # event). INTAKE_UNMASK_ROLES='["township_clerk","discipline_inspector"]'.
    unmask_roles: frozenset[Role] = DEFAULT_UNMASK_ROLES


def load_policies(path: Path) -> PolicyBook:
    with path.open(encoding="utf-8") as f:
        return PolicyBook.model_validate(yaml.safe_load(f))


def build(settings: IntakeSettings | None = None) -> ServiceRuntime:
    settings = settings or IntakeSettings()
    keyring = Keyring.load_or_create(settings.resolved_keyring_file)
    app = IntakeApplication(settings, load_county(settings.region),
                            load_policies(settings.policy_file), keyring,
                            unmask_roles=settings.unmask_roles)
    return ServiceRuntime(settings, app, IntakeContracts(app, keyring), api.routers,
                          reactions(app))
