"""Composition root of disbursement: `python -m services.disbursement`."""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from services.disbursement.application import DisbursementApplication
from shared.bus import Outgoing
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class DisbursementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISBURSEMENT_")
    service: str = "disbursement"
    http_port: int = 8704


def no_integration_events(event: Any, position: int) -> Outgoing | None:
    return None


def build(settings: DisbursementSettings | None = None) -> ServiceRuntime:
    settings = settings or DisbursementSettings()
    return ServiceRuntime(settings, DisbursementApplication(settings), no_integration_events, [])
