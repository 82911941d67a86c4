"""The embedded stack for the console's browser tests: `python -m deploy.local` as real
processes, with publicity's clock sped up so a 7-day notice window passes in seconds, and
one 低保 case played from filing to confirmation through the gateway."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import nats

from deploy.demo.__main__ import EmbeddedStack, stack_env
from deploy.demo.households import generate
from deploy.demo.scenario import CHINA, Gateway, Progress, Scenario, Tokens, china_today
from deploy.local import AUDIENCE, ISSUER, REGION
from shared.auth import TokenIssuer
from shared.bus import stream_name
from shared.contracts.envelope import Envelope
from shared.natsauth import admin_url
from shared.regions import load_county
from tests.support.places import YELIN

SCAN = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class PlayedCase:
    application_id: str
    case_id: str
    household_id: str
    township: str


def start_stack(var: Path, port_base: int) -> tuple[EmbeddedStack, Gateway, Tokens]:
    # Intake checkpoints its chain heads a second after it goes quiet, so archive soon knows
    # what it should hold (a deleted tail is then detectable).
    env = {**stack_env(4.0, datetime.now(CHINA)), "INTAKE_CHECKPOINT_IDLE_S": "1"}
    stack = EmbeddedStack(var, port_base, port_base + 6, env)
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
    # The clerk scans the application form into the household file (一户一档).
    r = httpx.post(f"{gateway.url}/api/archive/files/{case['household_id']}/documents",
                   data={"case_id": str(rec.case_id), "document_kind": "application_form"},
                   files={"file": ("申请书.pdf", SCAN, "application/pdf")},
                   headers=scenario.clerk(YELIN))
    assert r.status_code == 201, r.text
    return PlayedCase(application_id=str(rec.application_id), case_id=str(rec.case_id),
                      household_id=str(case["household_id"]), township=YELIN)


async def tamper_with_a_copy(nats_url: str, keys_dir: Path, application_id: str) -> Envelope:
    """Publish, as NATS's operator, an edited copy of the case's acceptance under a new
    message id: what someone with the bus's credentials but no signing key could do. Archive
    refuses it on its hash and raises a chain alarm."""
    nc = await nats.connect(admin_url(nats_url, keys_dir))
    try:
        js = nc.jetstream()
        name = stream_name(REGION, "intake")
        info = await js.stream_info(name)
        copies = [Envelope.model_validate_json((await js.get_msg(name, seq)).data)
                  for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        accepted = next(e for e in copies if e.type == "application_accepted"
                        and str(e.aggregate_id) == application_id)
        edited = Envelope.model_validate({**accepted.model_dump(mode="json"),
                                          "data": {**accepted.data, "household_size": 9}})
        await js.publish(edited.subject, edited.to_bytes(),
                         headers={"Nats-Msg-Id": f"tampered-{application_id}"})
        return accepted
    finally:
        await nc.close()


def delete_the_archived_tail(var: Path, application_id: str) -> int:
    """Delete, in archive's own database, the newest archived link of the application's
    chain: what someone with write access to archive's store could do. Returns its
    position."""
    with sqlite3.connect(var / "archive.db", timeout=30) as db:
        (position,) = db.execute(
            "SELECT max(position) FROM archive_envelopes WHERE source = 'intake' AND "
            "aggregate_id = ?", (application_id,)).fetchone()
        db.execute("DELETE FROM archive_envelopes WHERE source = 'intake' AND position = ?",
                   (position,))
    return int(position)


class Stack:
    def __init__(self, gateway: str, var: Path, nats_url: str, case: PlayedCase) -> None:
        self.gateway, self.var, self.nats_url, self.case = gateway, var, nats_url, case
        self.console = f"{gateway}/console"
