"""Versioned integration-event schemas: one pydantic model per (source, type, version)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from shared.contracts.envelope import Envelope


class IntegrationEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    SOURCE: ClassVar[str]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


_REGISTRY: dict[tuple[str, str, int], type[IntegrationEvent]] = {}


def contract(cls: type[IntegrationEvent]) -> type[IntegrationEvent]:
    """Class decorator: register a schema so consumers can parse it by envelope fields."""
    key = (cls.SOURCE, cls.TYPE, cls.VERSION)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"contract {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def parse_data(envelope: Envelope) -> IntegrationEvent:
    try:
        model = _REGISTRY[(envelope.source, envelope.type, envelope.version)]
    except KeyError:
        raise LookupError(
            f"no contract for {envelope.source}.{envelope.type} v{envelope.version}"
        ) from None
    return model.model_validate(envelope.data)


def registered() -> dict[tuple[str, str, int], type[IntegrationEvent]]:
    return dict(_REGISTRY)
