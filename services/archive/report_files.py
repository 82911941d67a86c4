"""Supervision's files: the monthly filing (报备) and the statistics series as XLSX
(openpyxl), and a small PNG chart per figure (matplotlib, Agg, no pyplot global state).

Values → bytes; no store, no clock. The sealed filing's bytes are kept in the document
store under their hash, so the file the county receives is the file the seal signed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from services.archive.supervision import (
    COLUMNS,
    FIGURE_LABELS,
    FIGURES,
    LINE_LABELS,
    Line,
)
from shared.contracts.common import KIND_LABELS as COMMON_KIND_LABELS
from shared.extras import optional_import
from shared.fonts import cjk_font_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KIND_LABELS: dict[str | None, str] = {**COMMON_KIND_LABELS, "unspecified": "未分类",
                                      None: "全部"}
BOLD = Font(bold=True)


@dataclass(frozen=True)
class Heading:
    county: str
    township: str | None  # code; None for the county
    township_name: str
    title: str
    lines: tuple[str, ...] = ()


def _head(ws: Any, h: Heading) -> None:
    ws.append([f"{h.county} {h.township_name} {h.title}"])
    ws["A1"].font = Font(bold=True, size=13)
    for line in h.lines:
        ws.append([line])
    ws.append([])
    ws.column_dimensions["A"].width = 22


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def filing_xlsx(activity: Mapping[str, Any], heading: Heading) -> bytes:
    """《社会救助审核确认情况月度报备表》: counts per line and kind, then every item."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    _head(ws, heading)
    header = ["项目", "代码", *[KIND_LABELS[c] for c in COLUMNS], "合计"]
    ws.append(header)
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for ln in Line:
        row = activity["lines"][ln.value]
        ws.append([LINE_LABELS[ln], ln.value, *[row[c] for c in COLUMNS], row["total"]])
    ws.append([])
    for key, amount in activity["amounts"].items():
        ws.append([f"{LINE_LABELS[Line(key)]}金额(元)", key, Decimal(amount)])
        ws.cell(ws.max_row, 3).number_format = "0.00"
    detail = wb.create_sheet("明细")
    detail.append(["日期", "项目", "类别", "案件编号", "村(居)", "金额(元)", "理由/结论", "经办人",
                   "来源", "位置"])
    for cell in detail[1]:
        cell.font = BOLD
    for i in activity["items"]:
        detail.append([i["on"], LINE_LABELS[Line(i["line"])], KIND_LABELS.get(i["kind"]),
                       i["case_id"], i["village"],
                       Decimal(i["amount"]) if i["amount"] is not None else None,
                       i["reasons"], i["by"], i["source"], i["position"]])
    detail.column_dimensions["D"].width = 38
    return _save(wb)


def _value(v: Any) -> Any:
    return Decimal(v) if isinstance(v, str) else v


def statistics_xlsx(result: Mapping[str, Any], heading: Heading,
                    names: Mapping[str, str]) -> bytes:
    """One row per township × kind × month, and the county's totals per kind and month."""
    wb = Workbook()
    ws = wb.active
    ws.title = "统计"
    _head(ws, heading)
    columns = ["乡镇代码", "乡镇", "类别", "月份", *[FIGURE_LABELS[f] for f in FIGURES]]
    ws.append(columns)
    ws.append(["township", "township_name", "kind", "month", *FIGURES])
    for cell in (*ws[ws.max_row - 1], *ws[ws.max_row]):
        cell.font = BOLD
    for r in result["rows"]:
        ws.append([r["township"], names.get(r["township"], r["township"]), r["kind"],
                   r["month"], *[_value(r[f]) for f in FIGURES]])
    totals = wb.create_sheet("合计")
    totals.append(["全县合计 (比率与平均数按全县口径计算)"])
    totals.append(["kind", "kind_name", "month", *FIGURES])
    for cell in totals[2]:
        cell.font = BOLD
    for r in result["totals"]:
        totals.append([r["kind"] or "all", KIND_LABELS[r["kind"]], r["month"],
                       *[_value(r[f]) for f in FIGURES]])
    return _save(wb)


FIGURE_TITLES = {f: FIGURE_LABELS.get(f, f) for f in FIGURES}  # what a person reads


def figure_png(series: Sequence[Mapping[str, Any]], figure: str, title: str) -> bytes:
    """A small line chart of one figure over the months (gaps where it is undefined)."""
    # Heavy, and the optional `charts` extra: imported only when a chart is asked for.
    Figure = optional_import("matplotlib.figure").Figure

    FontProperties = optional_import("matplotlib.font_manager").FontProperties

    months = [r["month"] for r in series]
    values = [None if r[figure] is None else float(r[figure]) for r in series]
    font_file = cjk_font_file()  # without it the Chinese title would be empty boxes
    font = FontProperties(fname=str(font_file)) if font_file else FontProperties()
    fig = Figure(figsize=(4.8, 2.6), dpi=100)
    ax = fig.subplots()
    ax.plot(range(len(months)), [float("nan") if v is None else v for v in values],
            marker="o", linewidth=1.5)
    ax.set_xticks(range(len(months)), months, rotation=45, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(f"{FIGURE_TITLES[figure]}（{title}）", fontsize=9, fontproperties=font)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
