"""Vocabulary shared by every service's contracts (pure Python enums)."""

from __future__ import annotations

from enum import StrEnum


class AssistanceKind(StrEnum):
    """The four kinds of assistance whose review and confirmation was devolved."""

    DIBAO = "dibao"  # 最低生活保障 (低保), minimum living allowance
    TEKUN = "tekun"  # 特困人员救助供养, extreme-poverty support
    LINSHI = "linshi"  # 临时救助, temporary assistance
    DIBAO_EDGE = "dibao_edge"  # 低保边缘家庭认定, marginal low-income recognition


# What a clerk reads for each kind, in titles, tables, charts and summaries (never the code).
KIND_LABELS: dict[str, str] = {"dibao": "城乡低保", "tekun": "特困供养", "linshi": "临时救助",
                               "dibao_edge": "低保边缘"}


class LinshiType(StrEnum):
    EMERGENCY = "emergency"  # 急难型
    EXPENDITURE = "expenditure"  # 支出型


SERVICES = ("intake", "review", "publicity", "disbursement", "archive")
