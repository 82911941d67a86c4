"""An example finance bureau (县财政局): receives issued fund plans and acknowledges them.

A durable JetStream pull consumer (`finance-bureau`) of `fund_plan_issued` on
disbursement's stream. For each plan it checks the envelope's hash, the county seal over
the plan document's hash against the county's seal trust list (a file handed to the bureau,
`--trust-list`, else the published `GET /seals/trust-list`; never the key inside the seal),
and that the document it downloads is exactly that document,
then acknowledges through disbursement's API with the finance-bureau role. The
acknowledgement's Idempotency-Key is the event id, so a redelivered plan is acknowledged
once; the NATS message is acked only after the API answered.

    python -m deploy.finance_consumer --api http://127.0.0.1:8700/api/disbursement \
        --token-file var/finance-token --nats nats://127.0.0.1:4333
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.contracts import Envelope, parse_data
from shared.contracts.disbursement import FundPlanIssued
from shared.seals import TrustList, verify_seal

log = logging.getLogger("finance_consumer")


class FinanceBureauConsumer:
    def __init__(self, js: Any, api: httpx.AsyncClient, token: Callable[[], str],
                 region: str = "469028", durable: str = "finance-bureau",
                 trust_list: TrustList | None = None) -> None:
        self.js, self.api, self.token = js, api, token
        self.trust_list = trust_list
        self.region, self.durable = region, durable
        self.acknowledged: list[FundPlanIssued] = []
        self.rejected: list[tuple[str, str]] = []
        self._sub: Any = None

    async def _bind(self) -> None:
        self._sub = await self.js.pull_subscribe(
            f"sa.{self.region}.disbursement.fund_plan_issued", durable=self.durable,
            stream=f"SA_{self.region}_DISBURSEMENT",
            config=ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                  deliver_policy=DeliverPolicy.ALL, ack_wait=30))

    async def run_once(self, timeout: float = 1.0) -> int:
        """Fetch and handle what is waiting; returns the number of plans acknowledged."""
        if self._sub is None:
            await self._bind()
        try:
            msgs = await self._sub.fetch(10, timeout=timeout)
        except TimeoutError:  # an empty fetch
            return 0
        done = 0
        for msg in msgs:
            try:
                done += await self.handle(msg.data)
            except Exception:
                log.exception("plan not acknowledged; NATS redelivers it")
                await msg.nak(delay=5)
                continue
            await msg.ack()
        return done

    async def handle(self, raw: bytes) -> int:
        env = Envelope.model_validate_json(raw)
        if not env.hash_is_valid():
            self.rejected.append((str(env.event_id), "envelope hash does not verify"))
            return 0
        plan = parse_data(env)
        assert isinstance(plan, FundPlanIssued)
        problem = await self._check(plan)
        if problem:
            self.rejected.append((str(plan.plan_id), problem))
            log.error("plan %s refused: %s", plan.plan_id, problem)
            return 0
        r = await self.api.post(
            f"/fund-plans/{plan.month}/acknowledge",
            json={"receipt_reference": f"CZ-{plan.region}-{plan.month}-{plan.rows}",
                  "note": f"received {plan.total} yuan for {plan.rows} payments"},
            headers={"authorization": f"Bearer {self.token()}",
                     "idempotency-key": f"ack-{env.event_id}"})
        already = r.status_code == 422 and r.json().get("code") == (
            "disbursement.plan_acknowledged")
        if r.status_code != 200 and not already:
            raise RuntimeError(f"acknowledge failed: {r.status_code} {r.text}")
        self.acknowledged.append(plan)
        return 1

    async def _check(self, plan: FundPlanIssued) -> str | None:
        seal = plan.seal
        trust = self.trust_list
        if trust is None:
            r = await self.api.get("/seals/trust-list")
            if r.status_code != 200:
                return f"the county's seal trust list is not available ({r.status_code})"
            trust = TrustList.from_wire(r.json())
        verdict = verify_seal(seal.model_dump(), trust, subject=plan.month, owner=plan.region)
        if not verdict.valid:
            return f"the county seal does not verify: {verdict.reason}"
        if seal.sha256 != plan.document_sha256:
            return "the seal covers another document"
        r = await self.api.get(f"/fund-plans/{plan.month}/document",
                               headers={"authorization": f"Bearer {self.token()}"})
        if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != seal.sha256:
            return "the plan document does not match its sealed hash"
        return None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except NotFoundError:  # disbursement's stream not created yet
                self._sub = None
                await asyncio.sleep(1)


async def _main(args: argparse.Namespace) -> None:
    auth = ({"nkeys_seed": args.nkey_seed, "inbox_prefix": "_INBOX_finance-bureau"}
            if args.nkey_seed else {})  # the read-only finance-bureau user (shared/natsauth.py)
    nc = await nats.connect(args.nats, **auth)
    token = open(args.token_file).read().strip()  # noqa: SIM115 (read once at start)
    async with httpx.AsyncClient(base_url=args.api, timeout=30) as api:
        trust = TrustList.load(Path(args.trust_list)) if args.trust_list else None
        consumer = FinanceBureauConsumer(nc.jetstream(), api, lambda: token, args.region,
                                         trust_list=trust)
        stop = asyncio.Event()
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            await consumer.run(stop)
    await nc.drain()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nats", default="nats://127.0.0.1:4333")
    p.add_argument("--api", default="http://127.0.0.1:8700/api/disbursement")
    p.add_argument("--token-file", required=True, help="a finance_bureau bearer token")
    p.add_argument("--region", default="469028")
    p.add_argument("--trust-list", default=None,
                   help="the county's seal trust list (JSON); default: fetched from --api")
    p.add_argument("--nkey-seed", default=None,
                   help="the finance-bureau NKey seed file (var/keys/nats/finance-bureau.nk)")
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
