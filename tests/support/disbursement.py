"""Disbursement's test inputs: review's integration events as review publishes them,
China-time decision instants, tokens, and the application alone on SQLite."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from services.disbursement.domain import Upstream
from shared.auth import Role, TokenIssuer
from shared.contracts import Actor, Envelope, event_id_for
from shared.contracts.common import AssistanceKind
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    PayeeChanged,
    PayeeRef,
    SpotCheckCompleted,
    SpotCheckResult,
    TemporaryPaymentApproved,
)
from shared.fieldcrypt import Keyring
from shared.pii import mask_bank_account
from tests.support.actors import LEADER
from tests.support.places import GUANGPO_201, TAOYUAN, YELIN
from tests.support.signing import sealed
from tests.support.web import bearer

REVIEWER = LEADER.actor()
ACCOUNT_PURPOSE = "payee.account"
CHINA_TZ = timezone(timedelta(hours=8))


def keyring(keys_dir: Path) -> Keyring:
    return Keyring.load_or_create(keys_dir / "bus-keyring.json")


def payee(ring: Keyring, name: str, account: str,
          resident_id_mask: str | None = None) -> PayeeRef:
    return PayeeRef(name=name, bank="海南农信", account=ring.encrypt(
        account, mask_bank_account(account), ACCOUNT_PURPOSE),
        resident_id_mask=resident_id_mask)


def china(day: date, hour: int = 10) -> datetime:
    """A decision time on a China calendar day."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ)


def upstream(occurred: datetime, type_: str = "entitlement_started",
             position: int = 1) -> Upstream:
    return Upstream(event_id=str(uuid4()), type=type_, position=position,
                    occurred_at=occurred.isoformat(), actor=REVIEWER)


def started(ring: Keyring, *, amount: str, start_month: str, name: str = "黎阿婆",
            account: str = "6222021234567894", kind: AssistanceKind = AssistanceKind.DIBAO,
            township: str = YELIN, village: str = TAOYUAN, urban: bool = False,
            household_size: int = 2, entitlement_id: UUID | None = None,
            case_id: UUID | None = None, with_payee: bool = True,
            resident_id_mask: str | None = None) -> EntitlementStarted:
    return EntitlementStarted(
        entitlement_id=entitlement_id or uuid4(), case_id=case_id or uuid4(),
        household_id=f"hh-{name}", kind=kind, township=township, village=village, urban=urban,
        applicant_name=name, household_size=household_size, monthly_amount=Decimal(amount),
        breakdown={}, start_month=start_month, policy_version=3,
        payee=payee(ring, name, account, resident_id_mask) if with_payee else None)


def changed(e: EntitlementStarted, *, change: str, amount: str, effective_month: str,
            household_size: int | None = None, reasons: list[str] | None = None,
            ) -> EntitlementChanged:
    return EntitlementChanged(
        entitlement_id=e.entitlement_id, case_id=e.case_id, kind=e.kind, township=e.township,
        village=e.village, change=change, monthly_amount=Decimal(amount),
        household_size=household_size or e.household_size, effective_month=effective_month,
        reasons=reasons or [f"{change} after re-check"])


def payee_changed(ring: Keyring, e: EntitlementStarted, *, account: str, name: str | None = None,
                  changed_on: date = date(2026, 7, 2),
                  reason: str = "原账户已销户，新开社保卡") -> PayeeChanged:
    """Review's payee_changed for `e`'s household: the new account sealed, as review sends."""
    return PayeeChanged(
        entitlement_id=e.entitlement_id, case_id=e.case_id, household_id=e.household_id,
        kind=e.kind, township=e.township, village=e.village,
        payee=payee(ring, name or e.applicant_name, account), reason=reason,
        changed_on=changed_on)


def temporary(ring: Keyring, *, amount: str, month: str, name: str = "符大哥",
              account: str = "6222029876543214", township: str = YELIN,
              instalment: int = 1, instalments: int = 1, advance: bool = False,
              case_id: UUID | None = None,
              resident_id_mask: str | None = None) -> TemporaryPaymentApproved:
    return TemporaryPaymentApproved(
        payment_id=uuid4(), case_id=case_id or uuid4(), household_id=f"hh-{name}",
        township=township, village=TAOYUAN if township == YELIN else GUANGPO_201, urban=True,
        applicant_name=name, household_size=3, amount=Decimal(amount), month=month,
        instalment=instalment, instalments=instalments, advance=advance,
        payee=payee(ring, name, account, resident_id_mask))


def spot_check(township: str, month: str, *results: tuple[UUID, bool, bool],
               spot_check_id: UUID | None = None) -> SpotCheckCompleted:
    return SpotCheckCompleted(
        spot_check_id=spot_check_id or uuid4(), township=township, month=month,
        results=[SpotCheckResult(case_id=c, upheld=u, resolved=r,
                                 finding=None if u else "income under-reported")
                 for c, u, r in results])


class ReviewStream:
    """Review's envelopes exactly as its relay builds them (chained per aggregate)."""

    def __init__(self) -> None:
        self.position = 0
        self.heads: dict[UUID, tuple[str, int]] = {}

    def envelope(self, contract: Any, occurred: datetime, aggregate_id: UUID,
                 township: str, case_id: UUID | None = None) -> Envelope:
        self.position += 1
        prev, version = self.heads.get(aggregate_id, ("0" * 64, 0))
        version += 1
        env = sealed(
            prev, event_id=event_id_for("review", aggregate_id, version), type=contract.TYPE,
            version=contract.VERSION, source="review", region="469028",
            aggregate_id=aggregate_id, aggregate_version=version, position=self.position,
            occurred_at=occurred, actor=Actor.model_validate(REVIEWER),
            case_id=str(case_id) if case_id else None, household_id=None, township=township,
            data=contract.model_dump(mode="json"))
        self.heads[aggregate_id] = (env.hash, version)
        return env


def application(tmp_path: Path, keys_dir: Path) -> Any:
    """The application alone (no bus, no HTTP) on a SQLite file in `tmp_path`, on 16 June."""
    from services.disbursement.main import DisbursementSettings, build_application

    app = build_application(DisbursementSettings(
        var_dir=tmp_path, keyring_file=keys_dir / "bus-keyring.json",
        seal_keys_dir=keys_dir / "seals", trust_list_file=keys_dir / "bus-trust.json",
        signing_key_file=keys_dir / "bus-signing" / "disbursement.ed25519.pem"))
    app.today = lambda: date(2026, 6, 16)
    app.now = lambda: datetime(2026, 6, 16, 9, 0, tzinfo=CHINA_TZ)
    return app


def token(issuer: TokenIssuer, role: Role, township: str | None = YELIN,
          user: str | None = None) -> dict[str, str]:
    return bearer(issuer, role, township, user_id=user)
