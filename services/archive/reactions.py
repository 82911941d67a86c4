"""Archive's reactions: every integration event of every service, its own included, joins
the consolidated timeline (一户一档's audit log), verified against its hash chain."""

from __future__ import annotations

from services.archive.application import ArchiveApplication
from shared.bus import CONFLICT, Handler
from shared.contracts import Envelope
from shared.contracts.common import SERVICES


def reactions(app: ArchiveApplication) -> dict[str, dict[str, Handler]]:
    def archive(env: Envelope) -> None:
        app.archive_envelope(env)

    def conflicting_copy(env: Envelope) -> None:
        app.raise_conflicting_copy_alarm(env)

    # "*": the kernel's consumer hands every type to this handler; CONFLICT gets a copy
    # that differs from the one already handled at the same position.
    return {upstream: {"*": archive, CONFLICT: conflicting_copy} for upstream in SERVICES}
