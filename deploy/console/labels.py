"""Chinese names for the codes the services' APIs return (display only)."""

from __future__ import annotations

from shared.auth import ROLE_LABELS
from shared.regions import load_county

ROLES = {role.value: label for role, label in ROLE_LABELS.items()} | {"system": "系统"}
KINDS = {"dibao": "最低生活保障", "tekun": "特困人员救助供养", "linshi": "临时救助",
         "dibao_edge": "低保边缘家庭"}
SOURCES = {"intake": "受理", "review": "审核确认", "publicity": "公示",
           "disbursement": "资金发放", "archive": "档案"}
STATUSES = {
    "submitted": "已申请", "returned": "退回补正", "accepted": "已受理", "declined": "不予受理",
    "withdrawn": "已撤回", "confirmed": "已确认", "rejected": "不予确认", "terminated": "已注销",
    "opened": "已立案", "investigating": "调查中", "investigated": "已入户调查",
    "reviewed": "已评议", "opinion_issued": "已出具意见", "awaiting_county": "待县级审批",
    "in_publicity": "公示中", "publicized": "公示期满", "reinvestigating": "重新调查",
    "active": "享受中", "suspended": "暂停", "phasing_out": "渐退", "termination_pending": "拟注销",
    "drafted": "已编制", "locked": "已锁定", "reconciled": "已对账", "sealed": "已盖章",
    "filed": "已报送", "compiled": "已汇总", "issued": "已下达", "acknowledged": "财政已确认",
    # archive's folded case (历史状态)
    "under_investigation": "调查核实中", "publicity_closed": "公示期满",
    "entitlement_changed": "待遇已变更", "termination_in_publicity": "拟注销公示中",
}
ALARM_REASONS = {
    "hash_mismatch": "哈希不符(内容被改)", "prev_hash_mismatch": "链接断开(前序哈希不符)",
    "conflicting_copy": "同一位置出现不同副本", "unsigned": "未签名", "unknown_key": "未知签名密钥",
    "wrong_signer": "签名者不符", "bad_signature": "签名无效", "subject_mismatch": "主题不符",
    "missing_tail": "缺失链尾", "missing_aggregate": "缺失整条记录",
    "missing_checkpoint": "缺失检查点", "unreadable": "无法读取",
}

ALERTS = {
    "deadline_missed": "错过每月15日或20日时限", "filing_overdue": "月度报备逾期",
    "approval_rate_outlier": "确认率异常", "average_amount_outlier": "户均金额异常",
    "close_relative_without_county_visit": "近亲属案件未经县级入户核查即确认",
    "investigator_voted": "同一人员既参与调查又参与评议表决",
}
DEADLINES = {"investigation_start": "启动调查", "decision": "作出决定",
             "rejection_notice": "不予确认告知", "tekun_confirmation": "特困确认",
             "advance_record": "先行救助补办手续"}


def township_names(region: str) -> dict[str, str]:
    return {t.code: t.name for t in load_county(region).townships}


def village_names(region: str) -> dict[str, str]:
    return {v.code: v.name for t in load_county(region).townships for v in t.villages}
