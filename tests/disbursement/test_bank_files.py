"""The files: the bank's return file (good and malformed), the roster export, the statistics
table as XLSX and PDF (Chinese text really in the PDF), and the electronic seal."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from services.disbursement.bank_files import (
    STATISTICS_TITLE,
    ExportRow,
    StatisticsHeading,
    bank_file_csv,
    parse_layout,
    read_bank_return,
    roster_csv,
    roster_csv_v1,
    roster_xlsx,
    statistics_pdf,
    statistics_xlsx,
)
from services.disbursement.domain import StatInput, compile_statistics
from services.disbursement.seal import SealKeys, seal_document, seal_verdict
from shared.errors import RuleViolation
from shared.pii import mask_resident_id
from tests.support.documents import pdf_fonts, pdf_text, red_pixels, render_pages, require_cjk_font


def fp(account: str) -> str:
    return "fp:" + account


def read(content: bytes, name: str = "return.csv") -> list:
    return read_bank_return(name, content, fp, max_lines=100)


def malformed(content: bytes, name: str = "return.csv") -> RuleViolation:
    with pytest.raises(RuleViolation) as e:
        read(content, name)
    assert e.value.code == "disbursement.bank_file_malformed"
    return e.value


def test_return_file_in_csv_with_english_headers() -> None:
    lines = read(bank_file_csv([("6222 0212 3456 7890", "黎阿婆", Decimal("560.00"), "paid",
                                 "B1"),
                                ("6222029876543210", "符大哥", Decimal("300.5"), "failed",
                                 "B2")]))
    assert [(x.line, x.account_fp, x.amount, x.status) for x in lines] == [
        (2, "fp:6222021234567890", Decimal("560.00"), "paid"),
        (3, "fp:6222029876543210", Decimal("300.50"), "failed")]
    assert lines[0].account_mask == "************7890"  # never the plaintext


def test_return_file_in_gbk_with_chinese_headers_in_another_order() -> None:
    text = "流水号,状态,金额,户名,账号\r\nB1,成功,560.00,黎阿婆,6222021234567890\r\n"
    lines = read(text.encode("gb18030"))
    assert lines[0].name == "黎阿婆" and lines[0].status == "paid"


def test_return_file_in_xlsx() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["账号", "户名", "金额", "状态", "备注"])
    ws.append(["6222021234567890", "黎阿婆", 560, "成功", "B1"])
    buf = io.BytesIO()
    wb.save(buf)
    lines = read(buf.getvalue(), "return.xlsx")
    assert lines[0].amount == Decimal("560.00") and lines[0].reference == "B1"


@pytest.mark.parametrize(("body", "message", "field"), [
    ("account,name,amount,status\r\n", "no reference column", "file.row[1].reference"),
    ("account,name,amount,status,reference\r\n6222021234567890,黎阿婆,56o.00,paid,B1\r\n",
     "row 2, column amount", "file.row[2].amount"),
    ("account,name,amount,status,reference\r\n6222021234567890,黎阿婆,560.00,paid,B1\r\n"
     "62220212345X,符大哥,1.00,paid,B2\r\n", "row 3, column account", "file.row[3].account"),
    ("account,name,amount,status,reference\r\n6222021234567890,黎阿婆,560.001,paid,B1\r\n",
     "row 2, column amount", "file.row[2].amount"),
    ("account,name,amount,status,reference\r\n6222021234567890,黎阿婆,560.00,maybe,B1\r\n",
     "row 2, column status", "file.row[2].status"),
    ("account,name,amount,status,reference\r\n6222021234567890,,560.00,paid,B1\r\n",
     "row 2, column name", "file.row[2].name"),
])
def test_a_malformed_file_names_the_row_and_column(body: str, message: str,
                                                   field: str) -> None:
    e = malformed(body.encode())
    assert message in e.message and e.field == field


def test_an_account_stored_as_a_number_in_xlsx_is_refused() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["account", "name", "amount", "status", "reference"])
    ws.append([6222021234567890123, "黎阿婆", 560, "paid", "B1"])  # Excel loses digits
    buf = io.BytesIO()
    wb.save(buf)
    e = malformed(buf.getvalue(), "r.xlsx")
    assert e.field == "file.row[2].account" and "text" in e.message


def test_not_a_file_at_all() -> None:
    assert malformed(b"").message == "the file is empty"
    assert "XLSX" in malformed(b"PK\x03\x04broken", "r.xlsx").message
    assert "UTF-8" in malformed(bytes(range(128, 256)) * 3).message


GRANNY_ID, BROTHER_ID = "46902819560314092X", "469028198807150031"
ROSTER = [ExportRow("k1", "黎阿婆", "6222021234567890123", Decimal("560.00"), "椰林村",
                    "dibao", mask_resident_id(GRANNY_ID)),
          ExportRow("k2", "符大哥", "6222029876543210", Decimal("300.50"), "城东社区",
                    "dibao", mask_resident_id(BROTHER_ID))]
HEADER = "序号,参考号,户名,账号,金额(元),村(居),类别,身份证号(脱敏)"


def test_export_files_carry_the_accounts_as_text_and_are_reproducible() -> None:
    csv_text = roster_csv(ROSTER).decode("utf-8-sig")
    assert csv_text.splitlines()[0] == HEADER
    # The tab keeps Excel from reading 19 digits as a number (6.22202E+18, digits lost).
    assert csv_text.splitlines()[1] == \
        "1,k1,黎阿婆,\t6222021234567890123,560.00,椰林村,城乡低保,469*************2X"
    when = datetime(2026, 6, 16, 9, 30)
    first = roster_xlsx(ROSTER, "椰林镇 2026-06 城乡低保资金发放花名册", when)
    assert first == roster_xlsx(ROSTER, "椰林镇 2026-06 城乡低保资金发放花名册", when)  # same hash
    ws = load_workbook(io.BytesIO(first)).active
    assert [c.value for c in ws[2]] == HEADER.split(",")
    assert ws.cell(3, 4).value == "6222021234567890123" and ws.cell(3, 4).data_type == "s"
    assert ws.cell(3, 4).number_format == "@"  # a text cell in Excel too
    assert ws.cell(3, 5).data_type == "n" and ws.cell(3, 5).number_format == "0.00"
    assert ws.cell(3, 6).value == "椰林村" and ws.cell(3, 7).value == "城乡低保"
    assert ws.cell(3, 8).value == "469*************2X" and ws.cell(4, 8).value == \
        "469*************31"
    totals = [c.value for c in ws[5]]
    assert totals[:2] == ["合计", "共 2 笔"] and Decimal(str(totals[4])) == Decimal("860.50")
    assert ws.max_row == 5
    # A bank's import of the CSV reads the accounts back whole.
    lines = read_bank_return("r.csv", roster_csv(ROSTER).replace(
        HEADER.encode(), "序号,参考号,户名,账号,金额,村(居),状态,身份证号".encode()).replace(
        "城乡低保".encode(), "成功".encode()), fp, max_lines=10)
    assert [x.account_fp for x in lines] == ["fp:6222021234567890123", "fp:6222029876543210"]


def test_the_roster_files_show_the_masked_id_never_the_id() -> None:
    when = datetime(2026, 6, 16, 9, 30)
    files = {"csv": roster_csv(ROSTER).decode("utf-8-sig"),
             "gbk": roster_csv(ROSTER, "gbk").decode("gbk"),
             "xlsx": "\n".join(str(c.value) for row in load_workbook(io.BytesIO(roster_xlsx(
                 ROSTER, "花名册", when))).active.iter_rows() for c in row)}
    for name, text in files.items():
        assert "469*************2X" in text and "469*************31" in text, name
        assert GRANNY_ID not in text and BROTHER_ID not in text, name
        assert GRANNY_ID[3:16] not in text, name  # not even the birth date and sequence


def test_exports_of_the_second_layout_regenerate_without_the_id_column() -> None:
    csv_text = roster_csv(ROSTER, version=2).decode("utf-8-sig")
    assert csv_text.splitlines()[:2] == [
        "序号,参考号,户名,账号,金额(元),村(居),类别",
        "1,k1,黎阿婆,\t6222021234567890123,560.00,椰林村,城乡低保"]
    ws = load_workbook(io.BytesIO(roster_xlsx(ROSTER, "花名册", datetime(2026, 6, 16),
                                              version=2))).active
    assert [c.value for c in ws[2]] == ["序号", "参考号", "户名", "账号", "金额(元)", "村(居)",
                                        "类别"]
    assert ws.cell(3, 4).number_format == "@" and Decimal(str(ws.cell(5, 5).value)) == \
        Decimal("860.50")
    assert parse_layout("v2-gbk") == (2, "gbk") and parse_layout("v1") == (1, "utf-8")


def test_the_csv_in_gbk_for_banks_that_need_it() -> None:
    gbk = roster_csv(ROSTER, "gbk")
    assert not gbk.startswith(b"\xef\xbb\xbf")  # no UTF-8 BOM
    assert "黎阿婆" in gbk.decode("gbk") and "城乡低保" in gbk.decode("gbk")
    assert gbk.decode("gbk").splitlines()[0] == HEADER
    with pytest.raises(RuleViolation) as e:  # a name GBK cannot write: refused, named
        roster_csv([ROSTER[0]._replace(name="黎𠀀")], "gbk")
    assert (e.value.code, e.value.field) == ("disbursement.export_encoding", "encoding")


def test_exports_of_the_first_layout_regenerate_byte_for_byte() -> None:
    rows = [ExportRow("k1", "黎阿婆", "6222021234567890", Decimal("560.00"), "469028100201",
                      "dibao")]
    csv_text = roster_csv_v1(rows).decode("utf-8-sig")
    assert csv_text.splitlines()[1] == "1,k1,黎阿婆,6222021234567890,560.00,469028100201,城乡低保"


# --- the statistics table -------------------------------------------------------------------


FIGURES = compile_statistics([StatInput("dibao", False, "h1", 3, Decimal("840.00")),
                              StatInput("tekun", True, "h2", 1, Decimal("1200.00"))],
                             {("dibao", False): (1, 0)})
HEADING = StatisticsHeading("陵水黎族自治县", "椰林镇", "469028100", "2026-06",
                            datetime(2026, 6, 30, 10, 0), "王建华")


def test_statistics_pdf_renders_the_chinese_title_figures_seal_and_names(
        tmp_path: Path) -> None:
    require_cjk_font()
    pdf = statistics_pdf(FIGURES, HEADING)
    fonts = pdf_fonts(pdf, tmp_path)
    assert fonts and all(row[-5:-2] == ["yes", "yes", "yes"] for row in fonts), fonts
    pages = render_pages(pdf, "statistics-469028100-2026-06")
    assert len(pages) == 1
    assert red_pixels(pages[0]) > 2000, "the red seal is drawn on the page"
    text = pdf_text(pdf)
    assert f"《{STATISTICS_TITLE}》" in text
    for expected in ("陵水黎族自治县椰林镇", "城乡低保", "特困供养", "临时救助", "农村", "合计",
                     "840.00", "2040.00", "统计月份：2026-06", "编制：王建华",
                     "电子印章：椰林镇（469028100）", "签章人：王建华",
                     "签章时间：2026-06-30 10:00"):
        assert expected in text, expected
    totals = next(line for line in text.splitlines() if line.strip().startswith("合计"))
    assert totals.split()[1:5] == ["2", "4", "2040.00", "2040.00"]
    assert "u-clerk" not in text and "dibao" not in text
    assert pdf == statistics_pdf(FIGURES, HEADING)  # reproducible: no clock, no random id


def test_statistics_xlsx_has_the_table() -> None:
    ws = load_workbook(io.BytesIO(statistics_xlsx(FIGURES, HEADING))).active
    assert STATISTICS_TITLE in ws["A1"].value
    rows = [list(r) for r in ws.iter_rows(min_row=4, max_row=10, values_only=True)]
    assert rows[0] == ["城乡低保", "城市", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    # paid in full: nothing failed, carried, in arrears or recovered
    assert rows[1] == ["城乡低保", "农村", 1, 3, 840, 840, 0, 0, 0, 0, 1, 0]
    assert rows[-1][:5] == ["合计", None, 2, 4, 2040]
    # Numbers are number cells (a clerk can sum them), and 合计 is the sum of the lines.
    for r in ws.iter_rows(min_row=4, max_row=10):
        assert all(c.data_type == "n" for c in r[2:12]), [c.value for c in r]
    lines, total = rows[:-1], rows[-1]
    for col in range(2, 12):
        assert sum(Decimal(str(r[col])) for r in lines) == Decimal(str(total[col]))
    assert ws.cell(ws.max_row, 1).value == "编制：王建华  编制时间：2026-06-30 10:00"


# --- the electronic seal ------------------------------------------------------------------------


def test_seal_verifies_and_fails_on_a_one_byte_change(tmp_path: Path) -> None:
    keys = SealKeys(tmp_path / "seals", create_missing=True)
    pdf = statistics_pdf(FIGURES, HEADING)
    doc = seal_document(keys, "469028100", "2026-06", "statistics_pdf", "t.pdf",
                        "application/pdf", pdf)

    def signature_valid(owner: str, month: str, d: type[doc]) -> bool:
        return seal_verdict(keys, owner, month, d, sealed_at=None).valid

    assert signature_valid("469028100", "2026-06", doc)
    assert seal_verdict(keys, "469028100", "2026-06", doc, None, pdf).valid
    assert (tmp_path / "seals" / "469028100.sm2.pem").stat().st_mode & 0o777 == 0o600
    altered = bytearray(pdf)
    altered[len(altered) // 2] ^= 0x01
    forged = seal_document(keys, "469028100", "2026-06", "statistics_pdf", "t.pdf",
                           "application/pdf", bytes(altered))
    assert forged.sha256 != doc.sha256
    # The signature of one document does not cover another hash, township or month.
    moved = type(doc)(**{**doc.to_wire(), "sha256": forged.sha256})
    assert not signature_valid("469028100", "2026-06", moved)
    assert not signature_valid("469028101", "2026-06", doc)
    assert not signature_valid("469028100", "2026-07", doc)
    # Keys are per township and kept across restarts.
    other = seal_document(keys, "469028101", "2026-06", "statistics_pdf", "t.pdf",
                          "application/pdf", pdf)
    assert other.key_id != doc.key_id
    assert SealKeys(tmp_path / "seals").key_id("469028100") == doc.key_id
