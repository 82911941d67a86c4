"""Archive's reactions: every integration event of every service, its own included, joins
the consolidated timeline (一户一档's audit log), verified against its hash chain."""

from __future__ import annotations

from services.archive.application import ArchiveApplication
from shared.bus import Handler
from shared.contracts import Envelope
from shared.contracts.common import SERVICES


def reactions(app: ArchiveApplication) -> dict[str, dict[str, Handler]]:
    def archive(env: Envelope) -> None:
        app.archive_envelope(env)

    # "*": the kernel's consumer hands every type to this handler.
    return {upstream: {"*": archive} for upstream in SERVICES}
