"""Composition root of archive: `python -m services.archive`."""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from services.archive.application import ArchiveApplication
from shared.bus import Outgoing
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_")
    service: str = "archive"
    http_port: int = 8705


def no_integration_events(event: Any, position: int) -> Outgoing | None:
    return None


def build(settings: ArchiveSettings | None = None) -> ServiceRuntime:
    settings = settings or ArchiveSettings()
    return ServiceRuntime(settings, ArchiveApplication(settings), no_integration_events, [])
