"""Files in and out of disbursement: the payment roster for the bank (发放花名册, CSV/XLSX),
the bank's return file, and the statistics table (统计表, XLSX/PDF).

Pure functions of values → bytes (and bytes → values): the same input gives the same bytes,
so an export can be regenerated and checked against the hash its audit event recorded.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from services.disbursement.domain import BankLine, money
from shared.contracts.common import KIND_LABELS
from shared.errors import RuleViolation
from shared.fonts import CJK_FONT_FILES, cjk_font_file
from shared.pii import mask_bank_account

STATISTICS_TITLE = "城乡低保、特困供养资金和临时救助发放统计表"
EXPORT_HEADER = ("序号", "参考号", "户名", "账号", "金额", "村(居)", "类别")
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ExportRow(NamedTuple):
    reference: str  # the roster row's key; the bank echoes it back
    name: str
    account: str  # plaintext: exists only while the export file is built
    amount: Decimal
    village: str
    kind: str
    resident_id_mask: str = ""  # 身份证号(脱敏); the clear ID is never in a file


def _export_cells(rows: Iterable[ExportRow], masked_id: bool = False) -> Iterable[list[Any]]:
    """[序号, 参考号, 户名, 账号, 金额, 村(居), 类别(, 身份证号(脱敏))]."""
    for i, r in enumerate(rows, start=1):
        yield [i, r.reference, r.name, r.account, r.amount, r.village,
               KIND_LABELS.get(r.kind, r.kind), *([r.resident_id_mask] if masked_id else [])]


# Layouts of the bank roster. An export is regenerated (and checked against its audited
# hash) in the layout it was made in: "v1" for exports recorded before layouts existed,
# "v2" before the masked ID column. v3 appends that column, so that a bank's import
# template that reads the account and amount by position still finds them.
EXPORT_LAYOUTS = ("v3-utf-8", "v3-gbk")
EXPORT_HEADER_V2 = ("序号", "参考号", "户名", "账号", "金额(元)", "村(居)", "类别")
EXPORT_HEADER_V3 = (*EXPORT_HEADER_V2, "身份证号(脱敏)")
ENCODINGS = {"utf-8": "utf-8-sig", "gbk": "gbk"}  # the BOM tells Excel the file is UTF-8


def parse_layout(layout: str) -> tuple[int, str]:
    """"v3-gbk" → (3, "gbk"); "v1" (no encoding recorded) → (1, "utf-8")."""
    version, _, encoding = layout.partition("-")
    return int(version.removeprefix("v")), encoding or "utf-8"


def roster_csv(rows: Iterable[ExportRow], encoding: str = "utf-8", version: int = 3) -> bytes:
    """The bank's CSV: UTF-8 with BOM, or GBK for banks' tools that expect it. The account
    is written after a tab, so that Excel keeps a 19-digit number as text (not 6.22E+18
    with its last digits zeroed); bank parsers strip the whitespace (so does ours).
    `version` 2: the layout before the masked ID column (its exports regenerate)."""
    masked_id = version >= 3
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(EXPORT_HEADER_V3 if masked_id else EXPORT_HEADER_V2)
    for c in _export_cells(rows, masked_id):
        w.writerow([c[0], c[1], c[2], "\t" + c[3], str(c[4]), *c[5:]])
    text = buf.getvalue()
    try:
        return text.encode(ENCODINGS[encoding])
    except UnicodeEncodeError as e:
        bad = text[e.start:e.end]
        line = text.count("\n", 0, e.start)
        raise RuleViolation("disbursement.export_encoding",
                            f"row {line}: {bad!r} cannot be written in GBK; export UTF-8",
                            field="encoding") from None


def roster_csv_v1(rows: Iterable[ExportRow]) -> bytes:
    """The first layout (exports recorded before v2), kept so they regenerate exactly."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(EXPORT_HEADER)
    w.writerows([*c[:4], str(c[4]), *c[5:]] for c in _export_cells(rows))
    return buf.getvalue().encode("utf-8-sig")


def _deterministic(workbook: Workbook, when: datetime) -> bytes:
    """openpyxl stamps the zip entries with the wall clock: re-stamp them so that the same
    workbook gives the same bytes (and so the same hash) whenever it is built."""
    workbook.properties.created = when.replace(tzinfo=None)
    stamp = f"{when:%Y-%m-%dT%H:%M:%S}Z".encode()
    raw = io.BytesIO()
    workbook.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl writes "modified" = now
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp + rb"\g<2>", data)
            dst.writestr(fixed, data)
    return out.getvalue()


def roster_xlsx(rows: Iterable[ExportRow], title: str, when: datetime,
                version: int = 3) -> bytes:
    """花名册 as clerks and banks read it: a title, the header, one row per payment with the
    account a text cell (format "@": Excel never turns it into a rounded number), the
    amount a number to the fen, the masked resident ID, and a 合计 row with the count and
    the total. `version` 2: the layout before the masked ID column (its exports
    regenerate)."""
    masked_id = version >= 3
    widths = (6, 40, 12, 24, 12, 16, 10, *((22,) if masked_id else ()))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("发放花名册")
    for col, width in zip("ABCDEFGH", widths, strict=False):
        ws.column_dimensions[col].width = width
    ws.append([title])
    ws.append(list(EXPORT_HEADER_V3 if masked_id else EXPORT_HEADER_V2))
    count, total = 0, Decimal("0.00")
    for cells in _export_cells(rows, masked_id):
        account = WriteOnlyCell(ws, value=cells[3])
        account.number_format = "@"
        amount = WriteOnlyCell(ws, value=cells[4])
        amount.number_format = "0.00"
        ws.append([*cells[:3], account, amount, *cells[5:]])
        count, total = count + 1, total + cells[4]
    sum_cell = WriteOnlyCell(ws, value=total)
    sum_cell.number_format = "0.00"
    ws.append(["合计", f"共 {count} 笔", "", "", sum_cell, "", "", *([""] if masked_id else [])])
    return _deterministic(wb, when)


def roster_xlsx_v1(rows: Iterable[ExportRow], title: str, when: datetime) -> bytes:
    """The first layout (exports recorded before v2), kept so they regenerate exactly."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("发放花名册")
    ws.append([title])
    ws.append(list(EXPORT_HEADER))
    for cells in _export_cells(rows):
        ws.append(cells)  # the account stays a string: a number would lose digits
    return _deterministic(wb, when)


# --- the bank's return file -------------------------------------------------------------------

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "account": ("account", "账号", "帐号", "卡号", "收款账号"),
    "name": ("name", "户名", "姓名", "收款人"),
    "amount": ("amount", "金额", "发放金额", "实发金额"),
    "status": ("status", "状态", "结果", "发放状态"),
    "reference": ("reference", "参考号", "流水号", "备注"),
}
# Optional: the bank's reason for a failed line (its own code or an ISO 20022 one).
OPTIONAL_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "reason": ("reason", "reason_code", "失败原因", "原因", "返回码", "错误码"),
}
STATUS_ALIASES = {"paid": ("paid", "success", "成功", "已发放", "已支付"),
                  "failed": ("failed", "fail", "失败", "未发放", "退回")}
_STATUS = {alias: status for status, aliases in STATUS_ALIASES.items() for alias in aliases}
_ACCOUNT = re.compile(r"^[0-9]{6,32}$")
_ACCOUNT_SEPARATORS = re.compile(r"[\s-]")


def _malformed(message: str, row: int | None = None, column: str | None = None) -> RuleViolation:
    where = ", ".join(p for p in (f"row {row}" if row else "",
                                  f"column {column}" if column else "") if p)
    field = "file" + (f".row[{row}]" if row else "") + (f".{column}" if column else "")
    return RuleViolation("disbursement.bank_file_malformed",
                         f"{where}: {message}" if where else message, field=field)


def _rows_of(file_name: str, content: bytes) -> Iterable[tuple[int, list[Any]]]:
    if content[:4] == b"PK\x03\x04":
        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many types for a broken workbook
            raise _malformed(f"not a readable XLSX workbook ({type(e).__name__})") from None
        ws = wb.worksheets[0]
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            yield i, list(values)
        wb.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):  # banks' tools often still write GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _malformed("neither UTF-8 nor GB18030 text, nor an XLSX workbook")
    try:
        for i, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            yield i, list(values)
    except csv.Error as e:
        raise _malformed(f"not valid CSV ({e})") from None


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def read_bank_return(file_name: str, content: bytes, fingerprint: Callable[[str], str],
                     max_lines: int) -> list[BankLine]:
    """Parse the return file: columns account, name, amount, status, reference (English or
    the usual Chinese headers, any order). The first bad cell stops it with its row and
    column named; nothing is recorded."""
    if not content.strip():
        raise _malformed("the file is empty")
    lines: list[BankLine] = []
    columns: dict[str, int] | None = None
    for row, values in _rows_of(file_name, content):
        cells = [_cell(v) for v in values]
        if not any(cells):
            continue
        if columns is None:
            columns = _header(cells, row)
            continue
        if len(lines) >= max_lines:
            raise _malformed(f"more than {max_lines} lines", row)
        lines.append(_line(row, values, cells, columns, fingerprint))
    if columns is None:
        raise _malformed("no header row", 1)
    return lines


def _header(cells: list[str], row: int) -> dict[str, int]:
    lowered = [c.lower() for c in cells]
    columns: dict[str, int] = {}
    for name, aliases in COLUMN_ALIASES.items():
        hits = [i for i, c in enumerate(lowered) if c in aliases]
        if not hits:
            raise _malformed(f"the header has no {name} column (accepted: {', '.join(aliases)})",
                             row, name)
        columns[name] = hits[0]
    for name, aliases in OPTIONAL_COLUMN_ALIASES.items():
        hits = [i for i, c in enumerate(lowered) if c in aliases]
        if hits:
            columns[name] = hits[0]
    return columns


def _line(row: int, values: Sequence[Any], cells: list[str], columns: dict[str, int],
          fingerprint: Callable[[str], str]) -> BankLine:
    n = len(cells)
    at = columns["account"]
    if at < len(values) and isinstance(values[at], int | float):
        raise _malformed("the account is a number cell; store it as text (digits get lost)",
                         row, "account")
    account = _ACCOUNT_SEPARATORS.sub("", cells[at] if at < n else "")
    if not _ACCOUNT.match(account):
        raise _malformed("not an account number (6-32 digits)", row, "account")
    i = columns["name"]
    name = cells[i] if i < n else ""
    if not name or len(name) > 64:
        raise _malformed("the name is empty or longer than 64 characters", row, "name")
    i = columns["amount"]
    amount_text = cells[i] if i < n else ""
    try:
        amount = money(amount_text)
    except RuleViolation as e:
        raise _malformed(f"{amount_text!r}: {e.message}", row, "amount") from None
    i = columns["status"]
    status_text = cells[i] if i < n else ""
    status = _STATUS.get(status_text.lower())
    if status is None:
        raise _malformed(f"{status_text!r} is not paid or failed", row, "status")
    i = columns["reference"]
    reference = cells[i] if i < n else ""
    if len(reference) > 64:
        raise _malformed("the reference is longer than 64 characters", row, "reference")
    i = columns.get("reason", n)
    bank_code = cells[i] if i < n else ""
    if len(bank_code) > 32:
        raise _malformed("the reason code is longer than 32 characters", row, "reason")
    return BankLine(row, fingerprint(account), mask_bank_account(account), name, amount,
                    status, reference, bank_code)


def bank_file_csv(lines: Iterable[tuple[str, str, Decimal, str, str]]) -> bytes:
    """A return file in the accepted layout (tests, the benchmark, a bank's template)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["account", "name", "amount", "status", "reference"])
    w.writerows([a, n, str(m), s, r] for a, n, m, s, r in lines)
    return buf.getvalue().encode("utf-8-sig")


# --- the statistics table ---------------------------------------------------------------------

STAT_COLUMNS = ("类别", "城乡", "户数", "人数", "金额(元)", "实发金额(元)", "发放失败(元)",
                "结转补发(元)", "其中补发(元)", "追回(元)", "新增户数", "停发户数")


def _money_columns(line: dict[str, Any]) -> list[str]:
    # Statistics sealed before failed/arrears/recovered were kept show them as 0.00.
    return [line["amount"], line.get("paid", line["amount"]),
            *(line.get(k, "0.00") for k in ("failed", "carried_forward", "arrears",
                                             "recovered"))]


def _stat_rows(figures: dict[str, Any]) -> list[list[str]]:
    out = []
    for line in figures["lines"]:
        out.append([KIND_LABELS[line["kind"]], "城市" if line["urban"] else "农村",
                    str(line["households"]), str(line["persons"]), *_money_columns(line),
                    str(line["new"]), str(line["ended"])])
    t = figures["total"]
    out.append(["合计", "", str(t["households"]), str(t["persons"]), *_money_columns(t),
                str(t["new"]), str(t["ended"])])
    return out


@dataclass(frozen=True)
class StatisticsHeading:
    county: str
    township_name: str
    township: str
    month: str
    compiled_at: datetime
    compiled_by: str  # the official's name (the token's name claim), else their user id
    seal_algorithm: str = "sm2"  # shown in the seal's caption


def statistics_xlsx(figures: dict[str, Any], h: StatisticsHeading) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "统计表"
    ws.append([f"{h.county}{h.township_name} {STATISTICS_TITLE}"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(STAT_COLUMNS))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([f"填报单位：{h.township_name}（{h.township}）", "", "", "",
               f"统计月份：{h.month}"])
    ws.append(list(STAT_COLUMNS))
    thin = Side(style="thin")
    for values in _stat_rows(figures):
        ws.append([values[0], values[1], *map(int, values[2:4]), *map(Decimal, values[4:10]),
                   *map(int, values[10:])])
    for row in ws.iter_rows(min_row=3, max_row=ws.max_row):
        for c in row:
            c.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    ws.append([f"编制：{h.compiled_by}  编制时间：{h.compiled_at:%Y-%m-%d %H:%M}"])
    for col, width in zip("ABCDEFGHIJKL", (12, 8, 10, 10, 14, 14, 14, 14, 14, 12, 10, 10),
                          strict=True):
        ws.column_dimensions[col].width = width
    return _deterministic(wb, h.compiled_at)


# The PDF's Chinese font (shared.fonts), embedded as a subset.
_EMBEDDED = "LingshuiCJK"
_FALLBACK = "STSong-Light"  # a CID font readers supply: renders, but is not embedded
log = logging.getLogger(__name__)


def _font() -> str:
    registered = pdfmetrics.getRegisteredFontNames()
    if _EMBEDDED in registered:
        return _EMBEDDED
    path = cjk_font_file()
    if path is not None:
        pdfmetrics.registerFont(TTFont(_EMBEDDED, str(path), subfontIndex=0))
        return _EMBEDDED
    if _FALLBACK not in registered:
        log.warning("no CJK TrueType font (%s): the statistics PDF uses %s, not embedded",
                    ", ".join(map(str, CJK_FONT_FILES)), _FALLBACK)
        pdfmetrics.registerFont(UnicodeCIDFont(_FALLBACK))
    return _FALLBACK


SEAL_RED = (0.82, 0.05, 0.05)


def seal_caption(h: StatisticsHeading) -> str:
    return (f"电子印章：{h.township_name}（{h.township}）  签章人：{h.compiled_by}  "
            f"签章时间：{h.compiled_at:%Y-%m-%d %H:%M}")


def _draw_seal(c: Canvas, font: str, cx: float, cy: float, h: StatisticsHeading) -> None:
    """The visible seal (印章): a red ring, the unit's name along the top, a star, and
    "电子印章" below; the GB/T 38540 seal itself travels beside the file."""
    radius = 52
    c.saveState()
    c.setStrokeColorRGB(*SEAL_RED)
    c.setFillColorRGB(*SEAL_RED)
    c.setLineWidth(2.6)
    c.circle(cx, cy, radius)
    name = f"{h.county}{h.township_name}"
    span = min(250.0, 20.0 * len(name))  # degrees of arc the name takes
    size = 11 if len(name) <= 12 else 9
    c.setFont(font, size)
    for i, ch in enumerate(name):
        angle = math.radians(90 + span / 2 - (span * (i + 0.5) / len(name)))
        c.saveState()
        c.translate(cx + (radius - 14) * math.cos(angle), cy + (radius - 14) * math.sin(angle))
        c.rotate(math.degrees(angle) - 90)
        c.drawCentredString(0, 0, ch)
        c.restoreState()
    c.setFont(font, 26)
    c.drawCentredString(cx, cy - 9, "★")
    c.setFont(font, 9)
    c.drawCentredString(cx, cy - 30, "电子印章")
    c.restoreState()


def statistics_pdf(figures: dict[str, Any], h: StatisticsHeading) -> bytes:
    """The same table as a PDF, with the township's visible seal and the official's name.
    Its Chinese font is embedded (a subset), so every reader renders it alike."""
    _FONT = _font()
    buf = io.BytesIO()
    # invariant: no wall-clock date or random id in the file, so its hash is reproducible.
    c = Canvas(buf, pagesize=landscape(A4), invariant=1, initialFontName=_FONT)
    c.setTitle(STATISTICS_TITLE)
    c.setAuthor(h.township_name)
    width, height = landscape(A4)
    c.setFont(_FONT, 16)
    c.drawCentredString(width / 2, height - 60, f"{h.county}{h.township_name}")
    c.drawCentredString(width / 2, height - 84, f"《{STATISTICS_TITLE}》")
    c.setFont(_FONT, 11)
    c.drawString(60, height - 116, f"填报单位：{h.township_name}（{h.township}）")
    c.drawRightString(width - 60, height - 116, f"统计月份：{h.month}")
    widths = (80, 40, 50, 50, 75, 80, 80, 80, 80, 65, 50, 50)
    x0, y, row_h = 46, height - 140, 24
    c.setFont(_FONT, 9)
    rows = [list(STAT_COLUMNS), *_stat_rows(figures)]
    for values in rows:
        x = x0
        for value, w in zip(values, widths, strict=True):
            c.rect(x, y - row_h, w, row_h)
            c.drawCentredString(x + w / 2, y - row_h + 8, value)
            x += w
        y -= row_h
    c.setFont(_FONT, 11)
    c.drawString(60, y - 30, f"编制：{h.compiled_by}    编制时间：{h.compiled_at:%Y-%m-%d %H:%M}")
    c.drawString(60, y - 50, "本表经乡镇电子印章签署（" + (
        "SM2/SM3，GB/T 38540" if h.seal_algorithm == "sm2" else h.seal_algorithm) +
        "）；核验：县民政系统“印章核验”，或离线核验工具与县印章信任列表。")
    seal_y = max(y - 85, 110)  # over the signature lines, as a stamped seal sits
    _draw_seal(c, _FONT, width - 150, seal_y, h)
    c.setFont(_FONT, 9)
    c.setFillColorRGB(*SEAL_RED)
    c.drawRightString(width - 60, seal_y - 68, seal_caption(h))
    c.showPage()
    c.save()
    return buf.getvalue()
