"""The finance bureau's hand-off (惠民惠农财政补贴资金"一卡通"): the subsidy-project metadata
each fund plan carries (versioned policy data, `data/subsidy_projects.yaml`) and the
per-household list (分户清单) the bureau loads. Pure apart from reading the data file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import yaml

DEFAULT_SUBSIDY_PROJECTS = Path(__file__).parent / "data" / "subsidy_projects.yaml"
LEVELS = ("central", "provincial", "municipal", "county")
SHORT_NAME_MAX = 7  # the passbook memo


@dataclass(frozen=True)
class SubsidyProject:
    kind: str
    code: str  # 项目编码
    short_name: str  # 项目简称
    document: str  # 政策文件
    document_number: str  # 文号
    department: str  # 主管部门
    level: str  # 政策级次


@dataclass(frozen=True)
class SubsidyProjects:
    version: int
    effective_from: date
    projects: dict[str, SubsidyProject]

    def to_wire(self) -> dict[str, Any]:
        return {"version": self.version, "effective_from": self.effective_from.isoformat(),
                "projects": [asdict(p) for p in self.projects.values()]}


@dataclass(frozen=True)
class SubsidyProjectBook:
    versions: tuple[SubsidyProjects, ...]

    def in_force(self, on: date) -> SubsidyProjects:
        chosen = self.versions[0]
        for v in self.versions:
            if v.effective_from <= on:
                chosen = v
        return chosen


def load_subsidy_projects(path: Path = DEFAULT_SUBSIDY_PROJECTS) -> SubsidyProjectBook:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    versions = []
    for v in data["versions"]:
        projects = {}
        for kind, p in v["projects"].items():
            if not 1 <= len(p["short_name"]) <= SHORT_NAME_MAX:
                raise ValueError(f"{kind}: 项目简称 {p['short_name']!r} is not 1 to "
                                 f"{SHORT_NAME_MAX} characters")
            if p["level"] not in LEVELS:
                raise ValueError(f"{kind}: 政策级次 {p['level']!r} is not one of {LEVELS}")
            if not all(str(p.get(f) or "").strip() for f in (
                    "code", "document", "document_number", "department")):
                raise ValueError(f"{kind}: code, document, document_number and department "
                                 "are required")
            projects[kind] = SubsidyProject(kind, str(p["code"]), p["short_name"],
                                            p["document"], p["document_number"],
                                            p["department"], p["level"])
        effective = v["effective_from"]
        versions.append(SubsidyProjects(int(v["version"]), effective if isinstance(
            effective, date) else date.fromisoformat(str(effective)), projects))
    if not versions:
        raise ValueError(f"{path}: no versions")
    return SubsidyProjectBook(tuple(sorted(versions, key=lambda v: v.effective_from)))


class HouseholdLine(NamedTuple):
    """One payment of the 分户清单: who is paid, into which account, under which project."""

    township: str
    village: str
    kind: str
    household_id: str
    name: str
    account: str  # in clear: the list is the audited disclosure to the bureau
    amount: Decimal
    row_key: str


HOUSEHOLD_LIST_COLUMNS = ("项目编码", "项目简称", "政策文号", "主管部门", "政策级次", "发放月份",
                          "乡镇", "村(社区)", "户编号", "姓名", "银行账号", "金额(元)", "明细编号")


def household_list_csv(month: str, projects: SubsidyProjects,
                       lines: Iterable[HouseholdLine]) -> bytes:
    """分户清单 as UTF-8 CSV (with BOM, as the bureau's spreadsheet import expects); a
    trailer row gives the count and the total the bureau checks against the plan."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HOUSEHOLD_LIST_COLUMNS)
    count, total = 0, Decimal("0.00")
    for ln in sorted(lines, key=lambda x: (x.township, x.kind, x.village, x.row_key)):
        p = projects.projects[ln.kind]
        w.writerow([p.code, p.short_name, p.document_number, p.department, p.level, month,
                    ln.township, ln.village, ln.household_id, ln.name, ln.account,
                    str(ln.amount), ln.row_key])
        count += 1
        total += ln.amount
    w.writerow(["合计", "", "", "", "", month, "", "", "", f"{count}户次", "", str(total), ""])
    return buf.getvalue().encode("utf-8-sig")
