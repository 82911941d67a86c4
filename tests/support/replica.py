"""One service replica as its container runs it (`python -m services.<svc>`, settings from
the environment), with the relay lease proposed for shared/bus.py substituted in.

    python -m tests.support.replica review

On a clean stop (SIGTERM) it prints one JSON line with what this replica did, so a test
can show that replicas shared the work: {"handled": n, "published": n}. (Printed from the
runtime's shutdown: uvicorn re-raises the signal once it has shut down.)
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import shared.runtime
from shared.bus import OutboxRelay, TrackedConsumer

consumers: list[TrackedConsumer] = []
relays: list[OutboxRelay] = []


class CountedConsumer(TrackedConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        consumers.append(self)


class CountedRelay(OutboxRelay):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        relays.append(self)


def main(service: str) -> None:
    shared.runtime.OutboxRelay = CountedRelay  # type: ignore[misc]
    shared.runtime.TrackedConsumer = CountedConsumer  # type: ignore[misc]
    runtime = importlib.import_module(f"services.{service}.main").build()
    stop = runtime.stop

    async def stop_and_report() -> None:
        await stop()
        print(json.dumps({"handled": sum(c.handled for c in consumers),
                          "published": sum(r.published for r in relays)}), flush=True)

    runtime.stop = stop_and_report  # type: ignore[method-assign]
    runtime.serve()


if __name__ == "__main__":
    main(sys.argv[1])
