"""Errors the domain raises and the web layer turns into problem+json.

Pure Python: domain modules import this without pulling in any framework.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 422

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code  # stable machine-readable rule code, e.g. "intake.id_checksum"
        self.message = message
        self.field = field


class RuleViolation(DomainError):
    """A business rule says no (HTTP 422)."""


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """Wrong role or outside the caller's jurisdiction (HTTP 403)."""

    status = 403


class Conflict(DomainError):
    """A concurrent write or a re-used idempotency key with another body (HTTP 409)."""

    status = 409
