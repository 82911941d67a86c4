"""Seals against the county's trust list (shared/seals.py) and the GB/T 38540 SM2 seal
(shared/ses.py): only a listed key, used inside its validity period and not revoked, makes
a valid seal; rotation keeps old seals valid; an independent SM2 implementation (gmssl)
verifies what Tongsuo signed; the offline verifier agrees."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core
from gmssl import sm2, sm3

from shared import ses
from shared.seals import SealAuthority, SealKeys, TrustList, verify_seal

COUNTY, YELIN, OTHER = "469028", "469028100", "469028101"
NAMES = {COUNTY: "陵水黎族自治县", YELIN: "椰林镇", OTHER: "光坡镇"}
START = datetime(2026, 6, 30, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def keys_at(directory: Path, clock: Clock, algorithm: str = "sm2") -> SealKeys:
    return SealKeys(directory, create_missing=True, county=COUNTY, names=NAMES,
                    algorithm=algorithm, now=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["sm2", "ed25519"])
def test_rotation_keeps_old_seals_and_revocation_ends_them(tmp_path: Path,
                                                           algorithm: str) -> None:
    clock = Clock()
    keys = keys_at(tmp_path, clock, algorithm)
    old = keys.seal(YELIN, "2026-06", "statistics_pdf", b"june")
    # An Ed25519 seal carries no time: the verifier is told when it was recorded.
    at = {"sealed_at": START} if algorithm == "ed25519" else {}
    assert keys.verify(old, subject="2026-06", content=b"june", owner=YELIN, **at).valid

    clock.at = START + timedelta(days=30)
    SealAuthority(tmp_path, COUNTY, NAMES).rotate(YELIN, algorithm, clock.at)  # type: ignore[arg-type]
    new = keys.seal(YELIN, "2026-07", "statistics_pdf", b"july")  # picks up the new key
    assert new.key_id != old.key_id
    assert keys.verify(new, subject="2026-07", content=b"july", **(
        {"sealed_at": clock.at} if at else {})).valid
    verdict = keys.verify(old, subject="2026-06", content=b"june", **at)
    assert verdict.valid, "sealed before the rotation: still valid"

    trust = keys.trust_list()
    listed = trust.find(old.key_id)
    assert listed is not None and listed.valid_until == "2026-07-30T02:00:00Z"
    assert trust.current(YELIN, algorithm).key_id == new.key_id  # type: ignore[union-attr,arg-type]
    if at:  # an Ed25519 seal said to be made after its key's period is refused
        late = keys.verify(old, subject="2026-06", sealed_at=clock.at + timedelta(hours=1))
        assert (late.valid, late.code) == (False, "expired")
        early = keys.verify(old, subject="2026-06", sealed_at=START - timedelta(days=1))
        assert (early.valid, early.code) == (False, "not_yet_valid")

    SealAuthority(tmp_path, COUNTY, NAMES).revoke(old.key_id, clock.at, "U盾遗失")
    verdict = keys.verify(old, subject="2026-06", content=b"june", **at)
    assert (verdict.valid, verdict.code) == (False, "revoked")
    assert "U盾遗失" in (verdict.reason or "")
    assert keys.verify(new, subject="2026-07", content=b"july", **(
        {"sealed_at": clock.at} if at else {})).valid


def test_a_revoked_current_key_refuses_to_seal_until_rotated(tmp_path: Path) -> None:
    clock = Clock()
    keys = keys_at(tmp_path, clock)
    seal = keys.seal(YELIN, "2026-06", "statistics_pdf", b"x")
    keys.authority.revoke(seal.key_id, clock.at, "compromised")
    from shared.errors import RuleViolation
    with pytest.raises(RuleViolation) as e:
        keys.seal(YELIN, "2026-06", "statistics_pdf", b"x")
    assert e.value.code == "seals.seal_key_revoked"
    keys.authority.rotate(YELIN, "sm2", clock.at)
    assert keys.verify(keys.seal(YELIN, "2026-06", "statistics_pdf", b"x"),
                       content=b"x").valid


def test_a_seal_by_a_key_not_on_the_list_fails(tmp_path: Path) -> None:
    clock = Clock()
    county_keys = keys_at(tmp_path / "county", clock)
    county_keys.seal(YELIN, "2026-06", "statistics_pdf", b"x")
    # Someone with a complete, well-formed seal system of their own.
    rogue = keys_at(tmp_path / "rogue", clock).seal(YELIN, "2026-06", "statistics_pdf", b"x")
    verdict = county_keys.verify(rogue, subject="2026-06", content=b"x", owner=YELIN)
    assert (verdict.valid, verdict.code) == (False, "unknown_key")
    # Another township's key cannot seal for Yelin, even when listed.
    other = county_keys.seal(OTHER, "2026-06", "statistics_pdf", b"x")
    verdict = county_keys.verify({**other.to_wire(), "owner": YELIN}, owner=YELIN,
                                 subject="2026-06")
    assert not verdict.valid and verdict.code in ("wrong_owner", "malformed")


def test_the_trust_list_file_stands_alone(tmp_path: Path) -> None:
    clock = Clock()
    keys = keys_at(tmp_path / "seals", clock)
    seal = keys.seal(YELIN, "2026-06", "statistics_pdf", b"x")
    copy = tmp_path / "trust-list.json"
    copy.write_bytes(keys.trust_list().to_json())
    trust = TrustList.load(copy)
    data = json.loads(copy.read_text())
    assert data["format"] == "lingshui-seal-trust-list/v1" and data["county"] == COUNTY
    entry = trust.find(seal.key_id)
    assert entry is not None and entry.owner_name == "椰林镇" and entry.algorithm == "sm2"
    assert verify_seal(seal, trust, subject="2026-06", content=b"x").valid


def test_the_sm2_seal_is_a_gbt_38540_v4_structure_that_gmssl_verifies(tmp_path: Path) -> None:
    clock = Clock()
    keys = keys_at(tmp_path, clock)
    content = "城乡低保统计表".encode() * 100
    seal = keys.seal(YELIN, "2026-06", "statistics_pdf", content)
    der = base64.b64decode(seal.signature)

    # The shape, read generically (no schema of ours): SES_Signature ::= SEQUENCE {
    # toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID, signature BIT STRING }
    outer = core.Sequence.load(der)
    tags = [outer[i].tag for i in range(len(outer))]
    assert tags == [16, 4, 6, 3]  # SEQUENCE, OCTET STRING, OID, BIT STRING
    tbs = ses.TBSSign.load(outer[0].dump())
    assert tbs["version"].native == 4
    info = tbs["eseal"]["esealInfo"]
    assert info["header"].native == {"id": "ES", "version": 4, "vid": "lingshui"}
    assert info["property"]["name"].native == "椰林镇"
    assert tbs["timeInfo"].native == START
    assert outer[2].dotted == "1.2.156.10197.1.501"

    # gmssl (pure Python, independent of Tongsuo) agrees on SM3 and on the SM2 signature.
    assert bytes.fromhex(sm3.sm3_hash(list(content))) == tbs["dataHash"].native
    spki = outer[1].native
    point = spki[-64:]  # the uncompressed point's x || y ends the SubjectPublicKeyInfo
    r_s = core.Sequence.load(outer[3].contents[1:])  # past the unused-bits octet
    signature = f"{r_s[0].native:064x}{r_s[1].native:064x}"
    verifier = sm2.CryptSM2(private_key="", public_key=point.hex())
    assert verifier.verify_with_sm3(signature, outer[0].dump())
    assert not verifier.verify_with_sm3(signature, outer[0].dump()[:-1] + b"\x00")


def _verify_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.verify_seal", *map(str, args)],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])


def test_the_offline_verifier_checks_a_file_and_its_seal(tmp_path: Path) -> None:
    clock = Clock()
    keys = keys_at(tmp_path / "seals", clock)
    document = tmp_path / "统计表.pdf"
    document.write_bytes(b"%PDF-1.4 the table")
    seal = keys.seal(YELIN, "2026-06", "statistics_pdf", document.read_bytes())
    seal_file = tmp_path / "统计表.pdf.ses"
    seal_file.write_bytes(base64.b64decode(seal.signature))
    trust = tmp_path / "trust-list.json"
    trust.write_bytes(keys.trust_list().to_json())

    ok = _verify_cli(document, seal_file, "--trust-list", trust)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "有效 valid" in ok.stdout and "椰林镇" in ok.stdout

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(document.read_bytes() + b" ")
    bad = _verify_cli(tampered, seal_file, "--trust-list", trust, "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["code"] == "altered"

    rogue = keys_at(tmp_path / "rogue", clock).seal(YELIN, "2026-06", "statistics_pdf",
                                                     document.read_bytes())
    rogue_file = tmp_path / "rogue.ses"
    rogue_file.write_bytes(base64.b64decode(rogue.signature))
    refused = _verify_cli(document, rogue_file, "--trust-list", trust)
    assert refused.returncode == 1 and "unknown_key" in refused.stdout

    wrong_month = _verify_cli(document, seal_file, "--trust-list", trust, "--subject",
                              "2026-07")
    assert wrong_month.returncode == 1 and "wrong_subject" in wrong_month.stdout
    assert _verify_cli(document, tmp_path / "missing", "--trust-list", trust).returncode == 2
