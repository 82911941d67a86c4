"""At rest: with ENCRYPT_AT_REST on, the read model keeps the applicant's name encrypted (the
list still shows it), the SQLite file holds no name, birth date or account in clear, and
the database and key files the service creates are mode 0600."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from shared.eventstore import AtRest
from shared.files import ensure_private_file
from tests.support.intake import CHILD_BORN, GRANNY_BORN, filing
from tests.support.places import YELIN
from tests.support.stack import build_service
from tests.support.web import client

pytestmark = pytest.mark.fast


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_the_read_model_keeps_names_encrypted_and_files_private(
        tmp_path: Path, keys_dir: Path, clerk: dict[str, str]) -> None:
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None, encrypt_at_rest=True)
    try:
        async with client(rt) as http:
            r = await http.post("/applications", json=filing(name="符秀英"), headers=clerk)
            assert r.status_code == 201, r.text
            r = await http.get("/applications", params={"township": YELIN}, headers=clerk)
            assert r.status_code == 200, r.text
            assert [i["applicant_name"] for i in r.json()["items"]] == ["符秀英"]
        # While open, SQLite's -wal and -shm exist: they copied the database file's mode.
        live = sorted(tmp_path.glob("intake.db*"))
        assert {f.name for f in live} >= {"intake.db", "intake.db-wal", "intake.db-shm"}
        assert all(mode(f) == 0o600 for f in live), [(f.name, oct(mode(f))) for f in live]
        db = tmp_path / "intake.db"
        c = sqlite3.connect(db)
        (raw,) = c.execute("SELECT applicant_name FROM intake_applications").fetchone()
        c.close()
        assert raw.startswith(AtRest.PREFIX) and "符秀英" not in raw
        files = sorted(tmp_path.glob("intake.db*"))
        assert files and all(mode(f) == 0o600 for f in files), [(f, oct(mode(f))) for f in files]
        stored = b"".join(f.read_bytes() for f in files)
        for secret in ("符秀英", "黎小明", GRANNY_BORN.isoformat(), CHILD_BORN.isoformat(),
                       "6228480402564890018"):
            assert secret.encode() not in stored, secret
        assert mode(tmp_path / "keys" / "intake-at-rest.key") == 0o600
    finally:
        rt.app.close()


def test_a_database_from_before_is_tightened_and_a_new_one_is_private(tmp_path: Path) -> None:
    old, wal = tmp_path / "old.db", tmp_path / "old.db-wal"
    old.write_bytes(b"")
    wal.write_bytes(b"")
    old.chmod(0o644)
    wal.chmod(0o644)
    ensure_private_file(old)
    ensure_private_file(tmp_path / "new.db")
    assert {f.name: mode(f) for f in tmp_path.iterdir()} == {
        "old.db": 0o600, "old.db-wal": 0o600, "new.db": 0o600}


def test_a_row_from_before_encryption_reads_as_it_is() -> None:
    off, on = AtRest(), AtRest()
    on.cipher = AESCipher(Environment("t", {"CIPHER_KEY": AESCipher.create_key(32)}))
    assert off.encrypt("黎阿婆") == "黎阿婆"
    sealed: Any = on.encrypt("黎阿婆")
    assert sealed.startswith(AtRest.PREFIX) and on.decrypt(sealed) == "黎阿婆"
    assert on.decrypt("黎阿婆") == "黎阿婆"  # written before ENCRYPT_AT_REST was on
