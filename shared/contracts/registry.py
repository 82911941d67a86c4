"""Versioned integration-event schemas: one pydantic model per (source, type, version)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the envelope module imports the audit contract, registered here
    from shared.contracts.envelope import Envelope


class IntegrationEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    SOURCE: ClassVar[str]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def upcast(self) -> IntegrationEvent:
        """This event as its contract's current version, which consumers handle. A version
        that the next one only extends overrides this; any other is its own current form."""
        return self


_REGISTRY: dict[tuple[str, str, int], type[IntegrationEvent]] = {}
# A contract every service publishes (the audit record) registers under this source.
ANY_SOURCE = "*"


def contract(cls: type[IntegrationEvent]) -> type[IntegrationEvent]:
    """Class decorator: register a schema so consumers can parse it by envelope fields."""
    key = (cls.SOURCE, cls.TYPE, cls.VERSION)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"contract {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def parse_data(envelope: Envelope) -> IntegrationEvent:
    key = (envelope.source, envelope.type, envelope.version)
    try:
        model = _REGISTRY.get(key) or _REGISTRY[(ANY_SOURCE, *key[1:])]
    except KeyError:
        raise LookupError(
            f"no contract for {envelope.source}.{envelope.type} v{envelope.version}"
        ) from None
    return model.model_validate(envelope.data).upcast()


def registered() -> dict[tuple[str, str, int], type[IntegrationEvent]]:
    return dict(_REGISTRY)
