"""收款账户变更's rules on review's application (its own SQLite store): the number is checked
(format, UnionPay Luhn) before anything is sealed; a holder outside the household needs the
clerk's reason and gets no masked ID; an ended entitlement has no account to change."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.review.domain import Entitlement
from shared.bankcards import unionpay_card
from shared.errors import RuleViolation
from tests.support.actors import BUREAU, CLERK, LEADER
from tests.support.entitlements import app_on, live
from tests.support.places import YELIN
from tests.support.review import TERMS

pytestmark = pytest.mark.fast
NEW = unionpay_card("622848006201234567")


def test_the_number_is_checked_before_it_is_sealed(tmp_path: Path, keys_dir: Path) -> None:
    app = app_on(tmp_path, keys_dir)
    ent = live(app, YELIN)
    for number, code in (("12345", "review.payee_account_format"),
                         (NEW[:-1] + str((int(NEW[-1]) + 1) % 10), "review.payee_card_luhn")):
        with pytest.raises(RuleViolation) as refused:
            app.change_payee(CLERK, ent.id, "黎阿婆", "农行", number, "原账户已销户")
        assert (refused.value.code, refused.value.field) == (code, "account_number")
    with pytest.raises(RuleViolation) as no_reason:
        app.change_payee(CLERK, ent.id, "黎阿婆", "农行", NEW, " ")
    assert no_reason.value.field == "reason"
    assert app.get(ent.id).version == ent.version
    # A passbook (存折) number has no check digit; spaces as printed are dropped.
    changed = app.change_payee(CLERK, ent.id, "黎阿婆", "农信", "4300 1234 5678", "改用存折")
    assert changed.payee is not None and changed.payee["account"]["mask"] == "********5678"


def test_a_holder_outside_the_household_needs_a_reason(tmp_path: Path, keys_dir: Path) -> None:
    app = app_on(tmp_path, keys_dir)
    ent = live(app, YELIN)
    with pytest.raises(RuleViolation) as refused:
        app.change_payee(CLERK, ent.id, "王监护", "农行", NEW, "原账户冻结")
    assert (refused.value.code, refused.value.field) == ("review.payee_holder", "holder_name")
    changed: Entitlement = app.change_payee(CLERK, ent.id, "王监护", "农行", NEW, "原账户冻结",
                                            holder_not_member="法院指定的监护人账户")
    assert changed.payee is not None and changed.payee["resident_id_mask"] is None
    assert changed.payee_holder_not_member == "法院指定的监护人账户"
    # The member who is the holder: no reason needed, and the previous one is forgotten.
    again = app.change_payee(CLERK, ent.id, "符阿妹", "农行", NEW, "改为儿媳账户")
    assert again.payee_holder_not_member is None and again.payee["name"] == "符阿妹"


def test_an_ended_entitlement_has_no_account_to_change(tmp_path: Path, keys_dir: Path) -> None:
    app = app_on(tmp_path, keys_dir)
    app.publish_policy(BUREAU, date(2026, 2, 1), TERMS, "首版")
    ent = live(app, YELIN)
    app.change_status(LEADER, ent.id, "terminate", ["户籍迁出陵水县"])
    with pytest.raises(RuleViolation) as refused:
        app.change_payee(CLERK, ent.id, "黎阿婆", "农行", NEW, "原账户已销户")
    assert refused.value.code == "review.entitlement_terminated"
