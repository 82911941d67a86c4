"""With ENCRYPT_AT_REST on, archive keeps each envelope as received but encrypted in its
read model: a v1 application_accepted (names in clear on the bus, from before sealing)
is not readable in the SQLite file, and the timeline and the chain verification still
read it back exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shared.auth import Principal, Role
from shared.eventstore import AtRest
from tests.support.archive import Streams, dibao_case
from tests.support.stack import build_service

pytestmark = pytest.mark.fast


def test_stored_envelopes_are_encrypted_and_still_verify(tmp_path: Path,
                                                         keys_dir: Path) -> None:
    rt = build_service("archive", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None, encrypt_at_rest=True)
    try:
        application, _, envs = dibao_case(Streams(), household_id="HH-0001")
        for e in envs[:3]:
            rt.app.archive_envelope(e)
        who = Principal("inspector", Role.DISCIPLINE_INSPECTOR, None)
        timeline = rt.app.case_timeline(who, application)
        assert [e["type"] for e in timeline["events"]][:2] == [
            "application_submitted", "application_accepted"]
        assert rt.app.verify_case(who, application)["ok"] is True
    finally:
        rt.app.close()
    c = sqlite3.connect(tmp_path / "archive.db")
    bodies = [b for (b,) in c.execute("SELECT body FROM archive_envelopes")]
    c.close()
    assert len(bodies) == 3 and all(b.startswith(AtRest.PREFIX) for b in bodies)
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("archive.db*"))
    assert "黎阿婆".encode() not in stored
