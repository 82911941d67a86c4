"""With ENCRYPT_AT_REST on, the ledger's applicant name and payee and a roster row's name are
encrypted in the read model (the raw executemany of roster rows included): the roster still
lists the names, the bank export still unseals the accounts, and the SQLite file holds
neither a name nor an account in clear."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from services.disbursement.main import DisbursementSettings, build_application
from shared.eventstore import AtRest
from tests.support.actors import CLERK
from tests.support.disbursement import CHINA_TZ, china, keyring, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

MONTH = "2026-06"
NAMES, ACCOUNTS = ("符秀英", "王德福"), ("6222020000000072", "6222020000000080")


def test_names_and_payees_are_encrypted_in_the_read_model(tmp_path: Path,
                                                          keys_dir: Path) -> None:
    app = build_application(DisbursementSettings(
        var_dir=tmp_path, keyring_file=keys_dir / "bus-keyring.json",
        seal_keys_dir=keys_dir / "seals", trust_list_file=keys_dir / "bus-trust.json",
        signing_key_file=keys_dir / "bus-signing" / "disbursement.ed25519.pem",
        encrypt_at_rest=True))
    app.today = lambda: date(2026, 6, 16)
    app.now = lambda: datetime(2026, 6, 16, 9, 0, tzinfo=CHINA_TZ)
    try:
        ring = keyring(keys_dir)
        for i, (name, account) in enumerate(zip(NAMES, ACCOUNTS, strict=True)):
            e = started(ring, amount="300.00", start_month="2026-01", name=name,
                        account=account).model_copy(update={"household_id": f"hh-{i}"})
            app.record_entitlement_started(e, upstream(china(date(2026, 1, 5))))
        app.draft_roster(CLERK, YELIN, MONTH, "dibao")
        _, rows = app.roster_rows(CLERK, YELIN, MONTH, "dibao", 10, 0)
        assert sorted(r["name"] for r in rows) == sorted(NAMES)
        app.lock_roster(CLERK, YELIN, MONTH, "dibao")
        _, content = app.create_export(CLERK, YELIN, MONTH, "dibao", "csv")
        assert all(a.encode() in content for a in ACCOUNTS)  # unsealed for the bank only
    finally:
        app.close()
    db = tmp_path / "disbursement.db"
    c = sqlite3.connect(db)
    raw = [*c.execute("SELECT applicant_name, payee FROM disbursement_ledger").fetchall(),
           *c.execute("SELECT name, name FROM disbursement_roster_rows").fetchall()]
    c.close()
    assert len(raw) == 4 and all(v.startswith(AtRest.PREFIX) for row in raw for v in row)
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("disbursement.db*"))
    for secret in (*NAMES, *ACCOUNTS):
        assert secret.encode() not in stored, secret
