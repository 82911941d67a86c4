"""The embedded stack for the console's browser tests: `python -m deploy.local` as real
processes, with publicity's clock sped up so a 7-day notice window passes in seconds, and
one 低保 case played from filing to confirmation through the gateway."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deploy.demo.__main__ import EmbeddedStack, stack_env
from deploy.demo.households import generate
from deploy.demo.scenario import CHINA, Gateway, Progress, Scenario, Tokens, china_today
from deploy.local import AUDIENCE, ISSUER
from shared.auth import TokenIssuer
from shared.regions import load_county

YELIN, GUANGPO = "469028100", "469028101"  # 椰林镇, 光坡镇


@dataclass
class PlayedCase:
    application_id: str
    case_id: str
    household_id: str
    township: str


def start_stack(var: Path, port_base: int) -> tuple[EmbeddedStack, Gateway, Tokens]:
    stack = EmbeddedStack(var, port_base, port_base + 6, stack_env(4.0, datetime.now(CHINA)))
    stack.start()
    tokens = Tokens(TokenIssuer(var / "keys" / "jwt-ed25519.pem", ISSUER, AUDIENCE))
    return stack, Gateway(f"http://127.0.0.1:{port_base}"), tokens


def play_one_case(gateway: Gateway, tokens: Tokens, out: Path) -> PlayedCase:
    """A plain 低保 household of 椰林镇, filed, investigated, reviewed, publicized, confirmed."""
    households = generate(load_county(), 21, [YELIN], 4, china_today())
    household = next(h for h in households if h.kind == "dibao" and h.eligible)
    household = dataclasses.replace(household, objection=None, advance=False, contractor=False,
                                    last_month=False)
    scenario = Scenario(gateway, tokens, [household], out, progress=Progress(quiet=True),
                        wait_s=60)
    scenario.play(scenario.records)
    scenario.wait_quiet("the case reached archive")
    rec = scenario.records[0]
    case = scenario.case(rec)
    assert case["status"] == "confirmed", case
    return PlayedCase(application_id=str(rec.application_id), case_id=str(rec.case_id),
                      household_id=str(case["household_id"]), township=YELIN)
