"""One way to consume another service's events.

A service's reactions.py maps upstream contract types to its application's commands; this
module turns each pair into a kernel Handler (shared/bus.py): it parses the envelope's data
into the contract (`parse_data`), checks the type, derives the "who" with the one rule below,
and calls the command. Exactly-once stays the kernel's (the tracked consumer's inbox row
commits with the events the command saves).

The one "who did it" rule: the actor of the upstream event (the reviewer who decided, the
clerk who accepted), else a named system actor for the upstream service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.bus import Handler
from shared.contracts import Envelope, IntegrationEvent, parse_data

C = TypeVar("C", bound=IntegrationEvent)


def system_actor(upstream: str, township: str | None = None) -> dict[str, Any]:
    """The "who" of an upstream event no person caused (a scheduler, a sweep)."""
    return {"user_id": f"system:{upstream}", "role": "system", "township": township,
            "village": None}


def actor_of(env: Envelope) -> dict[str, Any]:
    """The one rule: the envelope's actor, else the upstream service's system actor."""
    if env.actor is not None:
        return env.actor.model_dump()
    return system_actor(env.source, env.township)


@dataclass(frozen=True)
class Reaction:
    """What a command learns about the upstream event besides its data."""

    envelope: Envelope
    actor: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)


Command = Callable[[C, Reaction], object]


Contracts = type[IntegrationEvent] | tuple[type[IntegrationEvent], ...]


def handler(contracts: Contracts, command: Command[Any]) -> Handler:
    """`contracts`: one contract, or the versions of one (a stored v1 still parses as v1)."""
    kinds = contracts if isinstance(contracts, tuple) else (contracts,)

    def handle(env: Envelope) -> None:
        data = parse_data(env)
        if not isinstance(data, kinds):  # a registry mix-up, never a valid event
            raise TypeError(f"{env.source}.{env.type} parsed as {type(data).__name__}, "
                            f"not {' or '.join(k.__name__ for k in kinds)}")
        command(data, Reaction(env, actor_of(env)))
    return handle


def reacting_to(upstream: str, commands: Mapping[Contracts, Command[Any]]
                ) -> dict[str, Handler]:
    """{event type: handler} for one upstream service, from {contract(s): command}."""
    table: dict[str, Handler] = {}
    for contracts, command in commands.items():
        kinds = contracts if isinstance(contracts, tuple) else (contracts,)
        for contract in kinds:
            if upstream != contract.SOURCE:
                raise ValueError(f"{contract.__name__} is {contract.SOURCE}'s, "
                                 f"not {upstream}'s")
            if contract.TYPE != kinds[0].TYPE:
                raise ValueError(f"{contract.__name__} is not a version of {kinds[0].TYPE}")
        table[kinds[0].TYPE] = handler(kinds, command)
    return table
