"""The one seal module (shared/seals.py) both sealing services use: a township has one key,
whoever seals with it; keys are never overwritten; where keys are provisioned, a missing one
is refused with the calling service's rule code, and nothing is written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from services.disbursement.seal import seal_document, seal_verdict
from shared.errors import RuleViolation
from shared.seals import SealKeys, create_key_file, key_path, seal_statement
from tests.support.places import YELIN

pytestmark = pytest.mark.fast


def test_archive_and_disbursement_seal_a_township_with_one_key(tmp_path: Path) -> None:
    seals = tmp_path / "seals"
    filing = SealKeys(seals, create_missing=True, service="archive").seal(
        YELIN, "2025-03", "monthly_filing_xlsx", b"filing")
    disbursement = SealKeys(seals, service="disbursement")
    statistics = seal_document(disbursement, YELIN, "2025-03",
                               "statistics_pdf", "t.pdf", "application/pdf", b"table")
    assert filing.key_id == statistics.key_id and filing.public_key == statistics.public_key
    assert filing.algorithm == statistics.algorithm == "sm2"  # the county's default
    assert disbursement.verify(filing, subject="2025-03", content=b"filing").valid
    assert seal_verdict(disbursement, YELIN, "2025-03", statistics, sealed_at=None,
                        content=b"table").valid
    # The disbursement document is a kernel seal once its owner is named.
    wire = {**statistics.to_wire(), "owner": YELIN}
    assert disbursement.verify(wire, subject="2025-03", content=b"table").valid
    assert disbursement.verify(wire, subject="2025-03", content=b"tablE").code == "altered"


def test_the_statement_binds_owner_subject_kind_and_hash() -> None:
    assert seal_statement(YELIN, "2025-03", "statistics_pdf", "ab" * 32) == (
        f"lingshui-seal/v1|{YELIN}|2025-03|statistics_pdf|{'ab' * 32}".encode())


def test_a_key_is_never_overwritten_and_racing_creators_agree(tmp_path: Path) -> None:
    path = key_path(tmp_path / "seals", YELIN)
    assert create_key_file(path) is True
    first = path.read_bytes()
    assert create_key_file(path) is False and path.read_bytes() == first
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)

    other = "469028101"
    ids: list[str] = []
    barrier = threading.Barrier(4)

    def seal_concurrently() -> None:
        barrier.wait()
        ids.append(SealKeys(tmp_path / "seals", create_missing=True).key_id(other))
    threads = [threading.Thread(target=seal_concurrently) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 4 and len(set(ids)) == 1, "every creator ends with the one key"
    assert sorted(p.name for p in (tmp_path / "seals").iterdir()) == [
        ".trust-list.lock", f"{YELIN}.ed25519.pem", f"{other}.sm2.pem",
        "trust-list.json"]  # no temporary files left behind


def test_provisioned_only_refuses_a_missing_key_with_the_services_code(tmp_path: Path) -> None:
    keys = SealKeys(tmp_path / "seals", service="disbursement")  # create_missing is off
    with pytest.raises(RuleViolation) as e:
        keys.seal(YELIN, "2025-03", "statistics_pdf", b"x")
    assert (e.value.code, e.value.field) == ("disbursement.seal_key_missing", "township")
    assert not (tmp_path / "seals").exists()
    with pytest.raises(ValueError):
        keys.seal("../../etc/passwd", "2025-03", "statistics_pdf", b"x")
