"""Archive's reactions: every integration event of every service, its own included, joins
the consolidated timeline (一户一档's audit log), verified against its hash chain. Archive keeps the
envelope as it came, so unlike the other services it does not parse contracts through
shared/reactions.py; the "who" of a timeline record is the envelope's own actor."""

from __future__ import annotations

from typing import Any

from services.archive.application import ArchiveApplication
from shared.bus import CONFLICT, REJECTED
from shared.contracts import Envelope
from shared.contracts.common import SERVICES


def reactions(app: ArchiveApplication) -> dict[str, dict[str, Any]]:
    def archive(env: Envelope) -> None:
        app.archive_envelope(env)

    def conflicting_copy(env: Envelope) -> None:
        app.raise_conflicting_copy_alarm(env)

    def rejected(env: Envelope, reason: str, expected_prev: str) -> None:
        app.raise_rejection_alarm(env, reason, expected_prev)

    # "*": the kernel's consumer hands every type to this handler; CONFLICT gets a copy
    # that differs from the one already handled at the same position; REJECTED every copy
    # that failed verification (and was dead-lettered, with no other effect).
    return {upstream: {"*": archive, CONFLICT: conflicting_copy, REJECTED: rejected}
            for upstream in SERVICES}
