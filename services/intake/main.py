"""Composition root of intake: `python -m services.intake`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.intake import api
from services.intake.application import IntakeApplication
from services.intake.contracts import IntakeContracts
from shared.pii import Keyring
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")
    service: str = "intake"
    http_port: int = 8701


def build(settings: IntakeSettings | None = None) -> ServiceRuntime:
    settings = settings or IntakeSettings()
    app = IntakeApplication(settings, load_county(settings.region))
    keyring = Keyring.load_or_create(settings.resolved_keyring_file)
    return ServiceRuntime(settings, app, IntakeContracts(app, keyring), [api.router(app)])
