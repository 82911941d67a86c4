"""Archive's domain, pure: upload limits by content, completeness per kind and stage, the
household file and its two paper copies, chain verdicts, and replaying a case."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from services.archive.document_store import (
    LocalDocumentStore,
    S3DocumentStore,
    object_key,
    sha256_of,
)
from services.archive.domain import (
    CaseFacts,
    ChainAlarm,
    DocumentKind,
    DocumentTooLarge,
    HouseholdFile,
    Inconsistency,
    PaperCopy,
    UnsupportedDocumentType,
    check_document,
    fold_case,
    irregularities,
    link_verdict,
)
from services.archive.main import DEFAULT_REQUIRED_DOCUMENTS, load_required_documents
from shared.contracts import GENESIS_HASH, Actor
from shared.errors import RuleViolation
from tests.support import actors
from tests.support.archive import T0, Streams, dibao_case, tampered
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
TYPES = ("application/pdf", "image/jpeg", "image/png")
REQUIRED = load_required_documents(DEFAULT_REQUIRED_DOCUMENTS)
CLERK = actors.CLERK.as_actor()
COUNTY = Actor(user_id="bureau-1", role="county_bureau")


# --- upload limits -------------------------------------------------------------------------

@pytest.mark.parametrize(("head", "media"), [(PDF, "application/pdf"), (PNG, "image/png"),
                                             (JPEG, "image/jpeg")])
def test_the_type_is_judged_by_magic_bytes(head: bytes, media: str) -> None:
    assert check_document(len(head), head, 1000, TYPES) == media


def test_a_text_file_named_pdf_is_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedDocumentType) as e:
        check_document(20, b"hello, not a pdf at all", 1000, TYPES)
    assert (e.value.code, e.value.status, e.value.field) == ("archive.document_type", 415,
                                                              "file")


def test_a_type_outside_the_setting_is_refused() -> None:
    with pytest.raises(UnsupportedDocumentType):
        check_document(len(PNG), PNG, 1000, ("application/pdf",))


def test_an_oversized_file_is_refused_with_413_naming_the_limit() -> None:
    with pytest.raises(DocumentTooLarge) as e:
        check_document(1001, PDF, 1000, TYPES)
    assert e.value.status == 413 and "1000" in e.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(RuleViolation, match="empty"):
        check_document(0, b"", 1000, TYPES)


# --- completeness --------------------------------------------------------------------------

def test_dibao_at_investigation_needs_the_application_set_and_the_visit_and_report() -> None:
    missing = REQUIRED.missing("dibao", "investigation", ["application_form", "id_card"])
    assert missing == {
        "application": ["authorization", "commitment", "household_register", "income_proof"],
        "investigation": ["home_visit_form", "verification_report"],
    }


def test_tekun_needs_the_self_care_assessment_and_no_income_proof() -> None:
    missing = REQUIRED.missing("tekun", "investigation", [])
    assert "self_care_assessment" in missing["investigation"]
    assert "income_proof" not in missing["application"]


def test_linshi_needs_less_and_nothing_for_later_stages_not_reached() -> None:
    assert REQUIRED.missing("linshi", "application", ["application_form", "id_card"]) == {}
    assert REQUIRED.missing("linshi", "decision", ["application_form", "id_card"]) == {
        "investigation": ["home_visit_form"], "review": ["review_form"]}


def test_an_unknown_document_kind_in_the_policy_file_fails_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "required.json"
    bad.write_text(json.dumps({"dibao": {"application": ["selfie"]}}))
    with pytest.raises(ValueError, match="selfie"):
        load_required_documents(bad)


# --- the household file ---------------------------------------------------------------------

def facts(stage: str = "application", township: str = YELIN, kind: str = "linshi",
          case_id: str = "case-1") -> CaseFacts:
    return CaseFacts(case_id=case_id, township=township, village=None, kind=kind, stage=stage,
                     household_id="HH-1")


def file_with(*kinds: DocumentKind, case: CaseFacts | None = None) -> HouseholdFile:
    f = HouseholdFile.open("HH-1", YELIN, CLERK)
    for i, k in enumerate(kinds):
        f.file_document(case or facts(), k, f"{i:064x}", 100, "application/pdf", REQUIRED,
                        CLERK)
    return f


def test_the_document_completing_a_stage_records_file_completed_once() -> None:
    f = file_with(DocumentKind.APPLICATION_FORM)
    assert [type(e).__name__ for e in f.collect_events()] == ["Opened", "DocumentFiled"]
    f.file_document(facts(), DocumentKind.ID_CARD, "f" * 64, 10, "image/png", REQUIRED, CLERK)
    f.file_document(facts(), DocumentKind.ID_CARD, "e" * 64, 10, "image/png", REQUIRED, CLERK)
    names = [type(e).__name__ for e in f.collect_events()]
    assert names == ["DocumentFiled", "FileCompleted", "DocumentFiled"]
    assert f.completed == [("case-1", "application")]


def test_the_same_scan_twice_for_the_same_case_and_kind_is_refused() -> None:
    f = file_with(DocumentKind.ID_CARD)
    with pytest.raises(RuleViolation) as e:
        f.file_document(facts(), DocumentKind.ID_CARD, f"{0:064x}", 100, "application/pdf",
                        REQUIRED, CLERK)
    assert e.value.code == "archive.document_already_filed"


def test_a_case_of_another_township_cannot_enter_this_file() -> None:
    f = file_with()
    with pytest.raises(RuleViolation) as e:
        f.file_document(facts(township="469028101"), DocumentKind.ID_CARD, "a" * 64, 1,
                        "image/png", REQUIRED, CLERK)
    assert (e.value.code, e.value.field) == ("archive.file_township_mismatch", "case_id")


def test_consistency_names_what_paper_and_scan_disagree_on_per_copy() -> None:
    f = file_with(DocumentKind.APPLICATION_FORM, DocumentKind.ID_CARD)
    f.file_paper_items(PaperCopy.TOWNSHIP, facts(),
                       [DocumentKind.APPLICATION_FORM, DocumentKind.ID_CARD], "柜3", CLERK)
    f.file_paper_items(PaperCopy.COUNTY, facts(),
                       [DocumentKind.APPLICATION_FORM, DocumentKind.HOME_VISIT_FORM], "县档案室",
                       COUNTY)
    assert f.consistency() == [Inconsistency(case_id="case-1", copy="county",
                                             paper_only=["home_visit_form"],
                                             scanned_only=["id_card"])]


def test_a_copy_is_checked_out_once_and_returned_once_with_reasons() -> None:
    f = file_with()
    with pytest.raises(RuleViolation, match="nothing is filed"):
        f.check_out(PaperCopy.TOWNSHIP, "纪委 王某", "spot check", CLERK)
    f.file_paper_items(PaperCopy.TOWNSHIP, facts(), [DocumentKind.ID_CARD], "柜3", CLERK)
    f.check_out(PaperCopy.TOWNSHIP, "纪委 王某", "spot check", CLERK)
    with pytest.raises(RuleViolation) as e:
        f.check_out(PaperCopy.TOWNSHIP, "someone", "again", CLERK)
    assert e.value.code == "archive.copy_already_checked_out"
    with pytest.raises(RuleViolation, match="checked out"):
        f.file_paper_items(PaperCopy.TOWNSHIP, facts(), [DocumentKind.ID_CARD], "柜3", CLERK)
    f.return_copy(PaperCopy.TOWNSHIP, "柜3", CLERK)
    with pytest.raises(RuleViolation) as e:
        f.return_copy(PaperCopy.TOWNSHIP, "柜3", CLERK)
    assert e.value.code == "archive.copy_not_checked_out"
    out = [e for e in f.collect_events() if type(e).__name__ == "CheckedOut"]
    assert out[0].reason == "spot check" and out[0].actor == CLERK.stored()


def test_opening_a_scan_needs_a_reason_and_is_recorded() -> None:
    f = file_with(DocumentKind.ID_CARD)
    with pytest.raises(RuleViolation, match="why"):
        f.view_document(f"{0:064x}", "  ", COUNTY)
    f.view_document(f"{0:064x}", "discipline case 2025-07", COUNTY)
    viewed = f.collect_events()[-1]
    assert (type(viewed).__name__, viewed.reason, viewed.actor) == (
        "DocumentViewed", "discipline case 2025-07", COUNTY.stored())


# --- chain verdicts and alarms --------------------------------------------------------------

def test_link_verdicts_name_the_two_kinds_of_break() -> None:
    s = Streams()
    _, _, envs = dibao_case(s)
    first, second = envs[0], envs[1]
    assert link_verdict(first, None) is None
    assert link_verdict(second, first.hash) is None
    assert link_verdict(second, GENESIS_HASH) == "prev_hash_mismatch"
    assert link_verdict(tampered(second, household_size=9), first.hash) == "hash_mismatch"


def test_an_alarm_is_closed_once_and_an_inspector_must_say_why() -> None:
    _, _, envs = dibao_case(Streams())
    copy = tampered(envs[1], household_size=9)
    a = ChainAlarm.raise_for(copy, "hash_mismatch", envs[0].hash, COUNTY)
    raised = a.collect_events()[0]
    assert (a.upstream, a.upstream_position, a.township) == ("intake", 2, YELIN)
    assert (raised.stated_hash, raised.computed_hash) == (copy.hash, copy.computed_hash())
    assert raised.actor == COUNTY.stored()
    with pytest.raises(RuleViolation) as e:
        a.resolve("acknowledged", "", COUNTY)
    assert e.value.code == "archive.reason_required"
    a.resolve("acknowledged", "restored from the county backup", COUNTY)
    with pytest.raises(RuleViolation):
        a.resolve("acknowledged", "again", COUNTY)


# --- replaying a case -----------------------------------------------------------------------

def test_the_state_at_a_moment_replays_only_what_had_happened() -> None:
    application, case, envs = dibao_case(Streams())
    before_opinion = fold_case(envs, at=T0 + timedelta(days=2))
    assert (before_opinion.status, before_opinion.stage) == ("under_investigation",
                                                              "investigation")
    assert before_opinion.decision is None and before_opinion.events == 3
    final = fold_case(reversed(envs))  # arrival order does not matter
    assert (final.status, final.decision, final.monthly_amount) == ("confirmed", "confirmed",
                                                                    "560.00")
    assert final.case_ids == {application, case} and final.application_id == application
    assert final.household_id == "HH-0001" and final.stage == "decision"


def test_irregularities_worked_example() -> None:
    # Accepted Mon 2025-03-03; investigation due 03-06; decision due 03-31 (20 working days).
    _, _, late = dibao_case(Streams(), decided_after_days=30)  # decided 2025-04-02
    assert irregularities(fold_case(late), date(2025, 4, 10)) == [
        "decided_without_investigation", "decision_late"]
    _, _, fine = dibao_case(Streams(), investigated=True)  # investigated 03-04, decided 03-13
    assert irregularities(fold_case(fine), date(2025, 4, 10)) == []
    _, _, envs = dibao_case(Streams())
    open_case = fold_case(envs[:3])  # opened, never investigated, never decided
    assert irregularities(open_case, date(2025, 3, 5)) == []
    assert irregularities(open_case, date(2025, 4, 1)) == ["investigation_late",
                                                           "decision_late"]


# --- document stores ------------------------------------------------------------------------

def test_the_local_store_is_content_addressed_and_checks_on_read(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    digest = sha256_of(PDF)
    store.put(digest, PDF, "application/pdf")
    store.put(digest, PDF, "application/pdf")  # the same scan again: one object
    path = tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == PDF and store.get(digest) == PDF
    assert len(list(tmp_path.rglob("*"))) == 4  # sha256/ab/cd/<hash>
    with pytest.raises(ValueError, match="address"):
        store.put("0" * 64, PDF, "application/pdf")
    path.write_bytes(PDF + b"x")
    with pytest.raises(ValueError, match="does not match"):
        store.get(digest)


def test_the_s3_key_layout_and_checksum_without_network() -> None:
    digest = sha256_of(PNG)
    assert object_key(digest, "lingshui/") == (
        f"lingshui/sha256/{digest[:2]}/{digest[2:4]}/{digest}")
    client = boto3.client("s3", region_name="cn-south-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("put_object", {}, {
            "Bucket": "archive", "Key": object_key(digest, "lingshui/"), "Body": PNG,
            "ContentType": "image/png",
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(digest)).decode()})
        stub.add_response("get_object", {"Body": io.BytesIO(PNG)},
                          {"Bucket": "archive", "Key": object_key(digest, "lingshui/")})
        store = S3DocumentStore(client, "archive", "lingshui/")
        store.put(digest, PNG, "image/png")
        assert store.get(digest) == PNG
        stub.assert_no_pending_responses()


def test_object_keys_refuse_anything_but_a_sha256() -> None:
    with pytest.raises(ValueError):
        object_key("../../etc/passwd")

