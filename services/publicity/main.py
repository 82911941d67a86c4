"""Composition root of publicity: `python -m services.publicity`."""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from services.publicity.application import PublicityApplication
from shared.bus import Outgoing
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class PublicitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLICITY_")
    service: str = "publicity"
    http_port: int = 8703


def no_integration_events(event: Any, position: int) -> Outgoing | None:
    return None


def build(settings: PublicitySettings | None = None) -> ServiceRuntime:
    settings = settings or PublicitySettings()
    return ServiceRuntime(settings, PublicityApplication(settings), no_integration_events, [])
