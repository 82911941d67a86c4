"""Intake's domain: the Application aggregate, the case as the household filed it (申请).

Pure: no I/O, no framework. Rules raise RuleViolation with a stable code and the field
named as the API names it (e.g. "members[1].birth_date"). The policy (checklists, ages,
guards) arrives as data; resident-ID fingerprints arrive computed by the application
layer, which holds the key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.values import (
    Asset,
    Household,
    HouseholdChange,
    Member,
    MissingItem,
    Supporter,
)
from shared.contracts import Actor, StoredActor
from shared.contracts.common import AssistanceKind, LinshiType
from shared.errors import RuleViolation
from shared.pii import InvalidResidentId, age_on, validate_resident_id
from shared.regions import County, UnknownRegion


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已申请, waiting for the township to accept
    RETURNED = "returned"  # 退回补正, waiting for the filer to complete it
    ACCEPTED = "accepted"  # 已受理: review holds the case
    DECLINED = "declined"  # 不予受理
    WITHDRAWN = "withdrawn"  # 撤回
    CONFIRMED = "confirmed"  # review confirmed (审核确认): an active case
    REJECTED = "rejected"  # review refused
    TERMINATED = "terminated"  # the entitlement ended (注销)


# An open application, or one whose case is active, blocks a second filing of the same kind.
OPEN = frozenset({Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED})
WITHDRAWABLE = OPEN  # "at any time before confirmation"

AGENTS = frozenset({"village_committee", "entrusted_person"})



# --- policy (data the county may change; see shared/data/policy/intake.yaml) -------------

Condition = Literal["always", "entrusted", "has_income", "any_disability", "any_serious_illness",
                    "any_adult_student", "has_legal_supporters", "hukou_basis",
                    "residence_permit_basis", "single_person"]


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MaterialRequirement(_Policy):
    """One item of a kind's materials checklist (材料清单)."""

    code: str = Field(pattern=r"^[a-z_]{1,40}$")
    name: str = Field(min_length=1)
    when: Condition = "always"
    held_by_government: bool = False  # read from government systems, never asked again


class TekunCapacity(_Policy):
    """特困's capacity-to-work test: no capacity by age, or by severe disability [S3]."""

    elderly_age: int
    minor_age: int
    student_minor_age: int
    severe_disability_grades: frozenset[int]
    severe_disability_grades_by_kind: dict[str, frozenset[int]] = {}

    def has_no_capacity(self, member: Member, on: date) -> bool:
        age = age_on(member.birth_date, on)
        if age >= self.elderly_age or age < self.minor_age:
            return True
        if member.student and age < self.student_minor_age:
            return True
        disability = member.disability
        if not disability:
            return False
        grades = self.severe_disability_grades_by_kind.get(disability.kind,
                                                           self.severe_disability_grades)
        return disability.grade in grades


class SinglePerson(_Policy):
    """单人保: a severely disabled or seriously ill member applies alone [S2 Art. 5-8]."""

    kinds: frozenset[AssistanceKind]
    severe_disability_grades: frozenset[int]


class IntakePolicy(_Policy):
    version: int = Field(ge=1)
    effective_from: date
    source: str = Field(min_length=1)
    adult_age: int
    max_income_period_months: int = Field(ge=1)
    absurd_monthly_income_yuan: Decimal = Field(gt=0)
    absurd_asset_value_yuan: Decimal = Field(gt=0)
    tekun_capacity: TekunCapacity
    single_person: SinglePerson
    cash_kinds: frozenset[AssistanceKind]
    one_off_kinds: frozenset[AssistanceKind]
    materials_may_follow: frozenset[LinshiType]
    materials: dict[AssistanceKind, tuple[MaterialRequirement, ...]]

    @model_validator(mode="after")
    def _every_kind_has_a_checklist(self) -> IntakePolicy:
        missing = set(AssistanceKind) - set(self.materials)
        if missing:
            raise ValueError(f"no materials checklist for {sorted(missing)}")
        for kind, items in self.materials.items():
            codes = [i.code for i in items]
            if len(codes) != len(set(codes)):
                raise ValueError(f"duplicate material codes in the {kind} checklist")
        return self

    def checklist(self, kind: str) -> tuple[MaterialRequirement, ...]:
        return self.materials[AssistanceKind(kind)]

    def may_follow(self, kind: str, linshi_type: str | None) -> bool:
        """急难型 先行救助: materials and signatures may follow acceptance."""
        return kind == AssistanceKind.LINSHI and linshi_type in self.materials_may_follow


class NameRule(_Policy):
    """What a personal name (姓名) may hold, as the household or its agent writes it: NFC
    letters and combining marks, and the separators minority names use (the middle dot of
    阿沛·阿旺晋美); no control or format characters (NUL, BEL, RTL override, zero-width),
    symbols, digits, punctuation or markup."""

    version: int = Field(ge=1)
    effective_from: date
    source: str = Field(min_length=1)
    min_length: int = Field(ge=1)
    max_length: int = Field(ge=1, le=64)  # the API's own bound is 64
    separators: frozenset[str] = frozenset()  # e.g. "·" (U+00B7 MIDDLE DOT)

    @model_validator(mode="after")
    def _separators_are_single_punctuation(self) -> NameRule:
        for sep in self.separators:
            if len(sep) != 1 or unicodedata.category(sep)[0] in "LMC":
                raise ValueError(f"separator {sep!r} must be one punctuation character")
        return self

    def normalised(self, value: str, field: str) -> str:
        """The name in NFC, or RuleViolation naming the field and the rule broken."""

        def refuse(rule: str, message: str) -> RuleViolation:
            return RuleViolation(f"intake.name_{rule}", f"{field}: {message}", field=field)

        name = unicodedata.normalize("NFC", value)
        for ch in name:
            category = unicodedata.category(ch)
            if category[0] == "C":  # Cc control, Cf format (RTL override, zero-width), Cs, Co
                raise refuse("control_character",
                             f"a control or format character U+{ord(ch):04X} is not allowed")
            if category[0] not in "LM" and ch not in self.separators:
                raise refuse("character", f"U+{ord(ch):04X} ({category}) is not a letter, "
                             "combining mark or name separator")
        if not self.min_length <= len(name) <= self.max_length:
            raise refuse("length", f"a name is {self.min_length} to {self.max_length} "
                         "characters")
        if unicodedata.category(name[0])[0] != "L" or name[-1] in self.separators:
            raise refuse("shape", "a name begins with a letter and does not end with a "
                         "separator")
        pairs = zip(name, name[1:], strict=False)
        if any(a in self.separators and b in self.separators for a, b in pairs):
            raise refuse("shape", "separators stand between parts of a name")
        return name


# Every personal-name field intake accepts, by where it sits in a filing or a change.
_NAME_FIELDS = {
    "members": ("name",),
    "legal_supporters": ("name",),
    "close_relatives": ("member_name", "official_name"),
    "members_joined": ("name",),
}
_SINGLE_NAME_FIELDS = {"bank_account": ("holder_name",), "entrustment": ("agent_name",)}


def _check_names(rule: NameRule, data: dict[str, Any]) -> None:
    """Apply the name rule to every personal name in a filing or change, in place (NFC)."""
    for group, keys in _NAME_FIELDS.items():
        for i, item in enumerate(data.get(group) or []):
            for key in keys:
                if item.get(key) is not None:
                    item[key] = rule.normalised(item[key], f"{group}[{i}].{key}")
    for group, keys in _SINGLE_NAME_FIELDS.items():
        item = data.get(group)
        for key in keys:
            if item and item.get(key) is not None:
                item[key] = rule.normalised(item[key], f"{group}.{key}")


class PolicyBook(_Policy):
    """Every version of the intake policy; the one in force on a day applies. The name rule
    is versioned on its own, since it changes independently of the checklists."""

    versions: tuple[IntakePolicy, ...] = Field(min_length=1)
    name_rules: tuple[NameRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _name_rules_ordered(self) -> PolicyBook:
        numbers = [r.version for r in self.name_rules]
        dates = [r.effective_from for r in self.name_rules]
        if numbers != sorted(set(numbers)) or dates != sorted(dates):
            raise ValueError("name rule versions must be unique, ascending and in date order")
        return self

    def name_rule(self, on: date) -> NameRule:
        """The name rule in force on a day; the earliest one before it (names are checked
        for every filing, whatever day it carries)."""
        eligible = [r for r in self.name_rules if r.effective_from <= on]
        return eligible[-1] if eligible else self.name_rules[0]

    @model_validator(mode="after")
    def _ordered(self) -> PolicyBook:
        numbers = [v.version for v in self.versions]
        if numbers != sorted(set(numbers)):
            raise ValueError("policy versions must be unique and ascending")
        dates = [v.effective_from for v in self.versions]
        if dates != sorted(dates):
            raise ValueError("a later policy version must not take effect earlier")
        return self

    def in_force(self, on: date) -> IntakePolicy:
        eligible = [v for v in self.versions if v.effective_from <= on]
        if not eligible:
            raise RuleViolation("intake.no_policy", f"no intake policy in force on {on}")
        return eligible[-1]

    def version(self, number: int) -> IntakePolicy:
        return next(v for v in self.versions if v.version == number)


# --- filing rules ----------------------------------------------------------------------------


def check_place(county: County, township: str, village: str) -> None:
    try:
        county.township(township)
    except UnknownRegion as e:
        raise RuleViolation("intake.unknown_township", str(e), field="township") from None
    if not county.is_village_of(village, township):
        raise RuleViolation("intake.unknown_village",
                            f"village {village} is not in township {township}", field="village")


def _person_id(value: str, on: date, field: str) -> Any:
    try:
        return validate_resident_id(value, today=on)
    except InvalidResidentId as e:
        # The message never echoes the number.
        raise RuleViolation(f"intake.{e.rule}", e.message, field=field) from None


def _check_people(members: list[dict[str, Any]], supporters: list[dict[str, Any]],
                  on: date) -> None:
    """ID checksum and birth dates; nobody listed twice. Normalises the ID numbers."""
    if not members:
        raise RuleViolation("intake.no_members", "name at least the applicant", field="members")
    if sum(1 for m in members if m["relation"] == "self") != 1:
        raise RuleViolation("intake.one_applicant",
                            "exactly one member must be the applicant (relation 'self')",
                            field="members")
    seen: set[str] = set()
    people = [("members", i, m) for i, m in enumerate(members)]
    people += [("legal_supporters", i, s) for i, s in enumerate(supporters)]
    for group, i, person in people:
        field = f"{group}[{i}].resident_id"
        rid = _person_id(person["resident_id"], on, field)
        person["resident_id"] = rid.number
        if group == "members" and rid.birth_date != person["birth_date"]:
            raise RuleViolation("intake.birth_date_mismatch",
                                "birth date does not agree with the resident ID",
                                field=f"{group}[{i}].birth_date")
        if rid.number in seen:
            raise RuleViolation("intake.member_listed_twice",
                                "the same person is listed twice", field=field)
        seen.add(rid.number)


def check_amounts(policy: IntakePolicy, members: list[Member], assets: list[Asset],
                  group: str = "members") -> None:
    for i, m in enumerate(members):
        for j, item in enumerate(m.incomes):
            check_income(policy, item.amount, item.months, f"{group}[{i}].incomes[{j}]")
    for k, a in enumerate(assets):
        _check_amount(a.value, policy.absurd_asset_value_yuan, f"assets[{k}].value")


def check_income(policy: IntakePolicy, amount: Decimal, months: int, field: str) -> None:
    """`amount` yuan over `months`: a plausible period, a plausible sum."""
    if not 1 <= months <= policy.max_income_period_months:
        raise RuleViolation("intake.income_period",
                            f"the period must be 1 to {policy.max_income_period_months} months",
                            field=f"{field}.months")
    _check_amount(amount, policy.absurd_monthly_income_yuan * months, f"{field}.amount")


def _check_amount(amount: Decimal, absurd: Decimal, field: str) -> None:
    if not amount.is_finite() or amount < 0:
        raise RuleViolation("intake.negative_amount", "an amount cannot be negative", field=field)
    if amount >= absurd:
        raise RuleViolation("intake.absurd_amount",
                            f"{amount} yuan is not plausible here (limit {absurd}); "
                            "check for a typing error", field=field)


def check_filing(county: County, policy: IntakePolicy, *, kind: str, linshi_type: str | None,
                 township: str, village: str, filed_by: str, filing: Household,
                 on: date, names: NameRule | None = None) -> Household:
    """Every filing rule that needs no other case. Returns the household with IDs (and,
    under `names`, personal names) normalised, and its materials listed once, sorted."""
    data = filing.to_stored()  # a copy: names and ID numbers are normalised in it
    if names is not None:
        _check_names(names, data)
    check_place(county, township, village)
    if (kind == AssistanceKind.LINSHI) != (linshi_type is not None):
        raise RuleViolation("intake.linshi_type",
                            "临时救助 names its type (emergency or expenditure); other kinds do "
                            "not", field="linshi_type")
    if (kind == AssistanceKind.LINSHI) != (filing.residence_basis is not None):
        raise RuleViolation("intake.residence_basis",
                            "临时救助 states whether the household holds 户籍 or a 居住证 in the "
                            "township; other kinds apply where their 户籍 is",
                            field="residence_basis")
    if filing.legal_supporters and kind != AssistanceKind.TEKUN:
        raise RuleViolation("intake.legal_supporters_kind",
                            "legal supporters are named for 特困 only", field="legal_supporters")
    _check_people(data["members"], data["legal_supporters"], on)
    household = Household.of(data)
    members, supporters = household.members, household.legal_supporters
    if not policy.may_follow(kind, linshi_type):
        check_signatures(policy, kind, members, supporters, on)
    applicant_index = next(i for i, m in enumerate(members) if m.is_applicant)
    applicant = members[applicant_index]
    if kind == AssistanceKind.TEKUN and not policy.tekun_capacity.has_no_capacity(applicant, on):
        t = policy.tekun_capacity
        raise RuleViolation(
            "intake.tekun_capacity_to_work",
            f"特困 support is for those without capacity to work: aged {t.elderly_age} or over, "
            f"under {t.minor_age} (under {t.student_minor_age} while a student), or severely "
            "disabled", field=f"members[{applicant_index}]")
    if household.single_person:
        sp = policy.single_person
        if AssistanceKind(kind) not in sp.kinds:
            raise RuleViolation("intake.single_person_kind",
                                "单人保 applies only to " + ", ".join(sorted(sp.kinds)),
                                field="single_person")
        disability = applicant.disability
        severe = disability is not None and disability.grade in sp.severe_disability_grades
        if not (severe or applicant.serious_illness):
            raise RuleViolation("intake.single_person_eligibility",
                                "单人保 is for a severely disabled or seriously ill applicant",
                                field="single_person")
    check_amounts(policy, members, household.assets)
    entrustment = household.entrustment
    if filed_by in AGENTS and entrustment is None:
        raise RuleViolation("intake.entrustment_missing",
                            "a filing on the household's behalf records the entrustment (委托)",
                            field="entrustment")
    if filed_by not in AGENTS and entrustment is not None:
        raise RuleViolation("intake.entrustment_unexpected",
                            "an applicant filing in person has no entrustment",
                            field="entrustment")
    if entrustment is not None and entrustment.entrusted_on > on:
        raise RuleViolation("intake.entrustment_date", "the entrustment is dated in the future",
                            field="entrustment.entrusted_on")
    if household.close_relative_declared != bool(household.close_relatives):
        raise RuleViolation("intake.close_relative_details",
                            "a close-relative declaration names each relative, and names are "
                            "given only with the declaration", field="close_relatives")
    known = {r.code for r in policy.checklist(kind)}
    for i, code in enumerate(household.materials):
        if code not in known:
            raise RuleViolation("intake.unknown_material",
                                f"{code!r} is not on the {kind} checklist",
                                field=f"materials[{i}]")
    return household.model_copy(update={"materials": sorted(set(household.materials))})


def check_signatures(policy: IntakePolicy, kind: str, members: list[Member],
                     supporters: list[Supporter], on: date) -> None:
    """The authorization for economic verification: every adult member signs; for 特困 the
    legal supporters sign too."""
    lacking = unsigned(policy, kind, members, supporters, on)
    if lacking:
        raise RuleViolation("intake.authorization_missing",
                            f"the authorization for economic verification lacks {len(lacking)} "
                            "signature(s); the first is named", field=lacking[0][0])


def unsigned(policy: IntakePolicy, kind: str, members: list[Member],
             supporters: list[Supporter], on: date) -> list[tuple[str, str]]:
    """(field, name) of every signature the authorization still lacks."""
    out = [(f"members[{i}].authorization_signed", m.name) for i, m in enumerate(members)
           if age_on(m.birth_date, on) >= policy.adult_age and not m.authorization_signed]
    if kind == AssistanceKind.TEKUN:
        out += [(f"legal_supporters[{i}].authorization_signed", s.name)
                for i, s in enumerate(supporters) if not s.authorization_signed]
    return out


def conditions(policy: IntakePolicy, filed_by: str, filing: Household,
               on: date) -> set[str]:
    """Which of the checklist's conditions (`when`) the household meets."""
    members = filing.members
    held = {"always"}
    if filed_by in AGENTS:
        held.add("entrusted")
    if any(m.incomes for m in members):
        held.add("has_income")
    if any(m.disability for m in members):
        held.add("any_disability")
    if any(m.serious_illness for m in members):
        held.add("any_serious_illness")
    if any(m.student and age_on(m.birth_date, on) >= policy.adult_age for m in members):
        held.add("any_adult_student")
    if filing.legal_supporters:
        held.add("has_legal_supporters")
    basis = filing.residence_basis
    held.add("residence_permit_basis" if basis == "residence_permit" else "hukou_basis")
    if filing.single_person:
        held.add("single_person")
    return held


def missing_items(policy: IntakePolicy, kind: str, linshi_type: str | None, filed_by: str,
                  filing: Household, on: date) -> list[MissingItem]:
    """Everything the filing still lacks against the checklist, all at once (一次性告知)."""
    held = conditions(policy, filed_by, filing, on)
    provided = set(filing.materials)
    out = [MissingItem(code=r.code, description=r.name) for r in policy.checklist(kind)
           if r.when in held and not r.held_by_government and r.code not in provided]
    if AssistanceKind(kind) in policy.cash_kinds and filing.bank_account is None:
        out.append(MissingItem(code="bank_account", description="收款银行账户 (bank account)"))
    for field, name in unsigned(policy, kind, filing.members, filing.legal_supporters, on):
        out.append(MissingItem(code=f"signature:{field}", description=f"{name}: 授权书签字"))
    return out


def check_change(policy: IntakePolicy, reported: HouseholdChange, on: date,
                 names: NameRule | None = None) -> HouseholdChange:
    """A reported change names what changed; its people pass the same ID (and name) rules as
    a filing. Returns the change with ID numbers (and names) normalised."""
    change = reported.to_stored()  # a copy: names and ID numbers are normalised in it
    if names is not None:
        _check_names(names, change)
    parts = {"members": change.get("members_joined", []) + change.get("members_left", []),
             "income": change.get("incomes", []), "assets": change.get("assets", [])}
    if not parts[change["subject"]]:
        raise RuleViolation("intake.change_empty",
                            f"a {change['subject']} change lists what changed",
                            field={"members": "members_joined", "income": "incomes",
                                   "assets": "assets"}[change["subject"]])
    seen: set[str] = set()
    for group in ("members_joined", "members_left", "incomes"):
        for i, person in enumerate(change.get(group, [])):
            field = f"{group}[{i}].resident_id"
            rid = _person_id(person["resident_id"], on, field)
            person["resident_id"] = rid.number
            if group == "members_joined":
                if person["relation"] == "self":
                    raise RuleViolation("intake.one_applicant",
                                        "the household already has its applicant",
                                        field=f"{group}[{i}].relation")
                if rid.birth_date != person["birth_date"]:
                    raise RuleViolation("intake.birth_date_mismatch",
                                        "birth date does not agree with the resident ID",
                                        field=f"{group}[{i}].birth_date")
            if group != "incomes":
                if rid.number in seen:
                    raise RuleViolation("intake.member_listed_twice",
                                        "the same person is listed twice", field=field)
                seen.add(rid.number)
    checked = HouseholdChange.of(change)
    check_amounts(policy, checked.members_joined, checked.assets, group="members_joined")
    for i, item in enumerate(checked.incomes):
        check_income(policy, item.amount, item.months, f"incomes[{i}]")
    return checked


# --- aggregates ------------------------------------------------------------------------------


class Application(Aggregate):
    """申请: one household's application for one kind of assistance, as filed.

    `filing` holds the household as the filer gave it (members with incomes, assets, bank
    account, materials, supporters, close relatives, entrustment); resident IDs are
    normalised and carry their keyed fingerprint. Later facts from review (confirmed,
    rejected, terminated) are recorded here so filers see the case's status.
    """

    # Never in an audit record (shared.audit): the household as filed (names, birth dates,
    # health, incomes, accounts) stays in intake; the bus carries it only sealed.
    AUDIT_WITHHELD = frozenset({"filing", "change"})

    @event("Submitted")
    def __init__(self, kind: str, linshi_type: str | None, township: str, village: str,
                 urban: bool, filed_by: str, owner: str | None, household_id: str,
                 filing: dict[str, Any], filed_on: date, policy_version: int,
                 actor: StoredActor, already_members: list[str] | None = None) -> None:
        self.kind = kind
        self.linshi_type = linshi_type
        self.township = township
        self.village = village
        self.urban = urban
        self.filed_by = filed_by
        self.owner = owner  # the public applicant's user id when they filed online
        self.household_id = household_id
        self.filing = filing
        self.filed_on = filed_on
        self.policy_version = policy_version
        self.status = Status.SUBMITTED
        self.round = 1
        self.returns: list[dict[str, Any]] = []
        self.accepted_on: date | None = None
        self.outstanding: list[dict[str, str]] = []
        self.closing_reason: str | None = None
        self.case_id: UUID | None = None
        self.case_active = False
        self.decided_on: date | None = None
        self.decision_reasons: list[str] = []
        self.changes: list[dict[str, Any]] = []
        # The members as they stand after reported changes, in the stored form.
        self._household: list[dict[str, Any]] = list(filing["members"])
        # A public filing naming someone already in an open application or active case of
        # the kind: accepted without saying so (no membership oracle), flagged for the
        # township, whose acceptance re-checks and refuses it (intake.already_member).
        self.already_members: list[str] = list(already_members or [])

    # --- reading ---------------------------------------------------------------------------

    @property
    def as_filed(self) -> Household:
        """The household as filed (or as last resubmitted)."""
        return Household.of(self.filing)

    @property
    def members(self) -> list[Member]:
        """The members as filed."""
        return [Member.of(m) for m in self.filing["members"]]

    @property
    def applicant(self) -> Member:
        return next(m for m in self.members if m.is_applicant)

    @property
    def household(self) -> list[Member]:
        """The members as they stand now, after reported changes."""
        return [Member.of(m) for m in self._household]

    @property
    def close_relative_declared(self) -> bool:
        return bool(self.filing.get("close_relative_declared"))

    def holds(self, fingerprint: str | None) -> bool:
        return any(m["fingerprint"] == fingerprint for m in self._household)

    # --- the filer and the township --------------------------------------------------------

    def return_for_completion(self, missing: list[MissingItem], note: str | None, on: date,
                              actor: Actor) -> None:
        self._require(Status.SUBMITTED, "intake.return_state", "returned")
        if not missing:
            raise RuleViolation("intake.return_without_items",
                                "a return lists what is missing", field="items")
        if not (note or "").strip():  # the one-time notice says why, in writing
            raise RuleViolation("intake.reason_required",
                                "write the note of the one-time notice (一次性告知)", field="note")
        self._returned(missing=[m.to_stored() for m in missing], note=note, returned_on=on,
                       actor=actor.stored())

    @event("Returned")
    def _returned(self, missing: list[dict[str, str]], note: str | None, returned_on: date,
                  actor: StoredActor) -> None:
        self.status = Status.RETURNED
        self.returns.append({"missing": missing, "note": note, "returned_on": returned_on,
                             "round": self.round})

    def resubmit(self, filing: Household, household_id: str, policy_version: int,
                 on: date, actor: Actor, already_members: list[str] | None = None,
                 ) -> None:
        self._require(Status.RETURNED, "intake.resubmit_state", "resubmitted")
        flags = {"already_members": already_members} if already_members else {}
        self._resubmitted(filing=filing.to_stored(), household_id=household_id,
                          policy_version=policy_version, resubmitted_on=on, actor=actor.stored(),
                          **flags)

    @event("Resubmitted")
    def _resubmitted(self, filing: dict[str, Any], household_id: str, policy_version: int,
                     resubmitted_on: date, actor: StoredActor,
                     already_members: list[str] | None = None) -> None:
        self.already_members = list(already_members or [])
        self.filing = filing
        self._household = list(filing["members"])
        self.household_id = household_id
        self.policy_version = policy_version
        self.status = Status.SUBMITTED
        self.round += 1

    def accept(self, on: date, missing: list[MissingItem], may_follow: bool,
               actor: Actor) -> None:
        """受理. `missing` is what the checklist still lacks: it must be empty unless the
        kind lets materials follow (急难型), in which case it is recorded as outstanding."""
        self._require(Status.SUBMITTED, "intake.accept_state", "accepted")
        if missing and not may_follow:
            raise RuleViolation(
                "intake.incomplete",
                "cannot accept while items are missing; return it for completion listing: "
                + ", ".join(m.code for m in missing), field="materials")
        self._accepted(accepted_on=on, outstanding=[m.to_stored() for m in missing],
                       actor=actor.stored())

    @event("Accepted")
    def _accepted(self, accepted_on: date, outstanding: list[dict[str, str]],
                  actor: StoredActor) -> None:
        # The working-day time limits run from this date.
        self.status = Status.ACCEPTED
        self.accepted_on = accepted_on
        self.outstanding = outstanding

    def decline(self, reason: str, on: date, actor: Actor) -> None:
        self._require({Status.SUBMITTED, Status.RETURNED}, "intake.decline_state", "declined")
        self._declined(reason=_reason(reason), declined_on=on, actor=actor.stored())

    @event("Declined")
    def _declined(self, reason: str, declined_on: date, actor: StoredActor) -> None:
        self.status = Status.DECLINED
        self.closing_reason = reason

    def withdraw(self, reason: str, on: date, actor: Actor) -> None:
        self._require(WITHDRAWABLE, "intake.withdraw_state", "withdrawn")
        self._withdrawn(reason=_reason(reason), withdrawn_on=on,
                        was_accepted=self.status is Status.ACCEPTED, actor=actor.stored())

    @event("Withdrawn")
    def _withdrawn(self, reason: str, withdrawn_on: date, was_accepted: bool,
                   actor: StoredActor) -> None:
        self.status = Status.WITHDRAWN
        self.closing_reason = reason

    def report_change(self, change: HouseholdChange, on: date, actor: Actor,
                      already_members: list[str] | None = None) -> UUID:
        """动态管理: a confirmed household reports a change in members, income or assets;
        its people arrive fingerprinted."""
        self._require(Status.CONFIRMED, "intake.change_state", "changed")
        if not self.case_active:
            raise RuleViolation("intake.change_one_off",
                                "a one-off case has no dynamic management to report to")
        if any(p.fingerprint is None for p in [*change.members_joined, *change.members_left]):
            raise ValueError("the application layer fingerprints a change's people first")
        for i, m in enumerate(change.members_joined):
            if self.holds(m.fingerprint):
                raise RuleViolation("intake.member_listed_twice",
                                    "this person is already a member of the household",
                                    field=f"members_joined[{i}].resident_id")
        for i, left in enumerate(change.members_left):
            if not self.holds(left.fingerprint):
                raise RuleViolation("intake.change_unknown_member",
                                    "this person is not a member of the household",
                                    field=f"members_left[{i}].resident_id")
            if left.fingerprint == self.applicant.fingerprint and left.reason != "died":
                raise RuleViolation("intake.change_applicant_left",
                                    "the applicant cannot leave the household; report a new "
                                    "application instead", field=f"members_left[{i}]")
        known = {m["fingerprint"] for m in self._household}
        known |= {m.fingerprint for m in change.members_joined}
        for i, item in enumerate(change.incomes):
            if item.member_fingerprint not in known:
                raise RuleViolation("intake.change_unknown_member",
                                    "income of a person not in the household",
                                    field=f"incomes[{i}].resident_id")
        if change.occurred_on > on:
            raise RuleViolation("intake.change_date", "the change is dated in the future",
                                field="occurred_on")
        change_id = uuid4()
        flags = {"already_members": already_members} if already_members else {}
        self._change_reported(change_id=change_id, change=change.to_stored(), reported_on=on,
                              actor=actor.stored(), **flags)
        return change_id

    @event("ChangeReported")
    def _change_reported(self, change_id: UUID, change: dict[str, Any], reported_on: date,
                         actor: StoredActor, already_members: list[str] | None = None,
                         ) -> None:
        """`already_members`: fields of a public report naming someone already in another
        open application or active case of the kind, flagged for the township (who then
        decides); they stay out of the membership index."""
        left = {m["fingerprint"] for m in change.get("members_left", [])}
        self._household = [m for m in self._household if m["fingerprint"] not in left]
        self._household += change.get("members_joined", [])
        flags = {"already_members": list(already_members)} if already_members else {}
        self.changes.append({"change_id": change_id, "reported_on": reported_on, **change,
                             **flags})

    # --- facts learned from review ----------------------------------------------------------

    def record_confirmation(self, case_id: UUID, decided_on: date, ends_case: bool,
                            actor: Actor) -> bool:
        """Review confirmed the case. `ends_case`: a one-off kind is done once confirmed."""
        if self.status is Status.CONFIRMED and self.case_id == case_id:
            return False
        self._case_confirmed(case_id=case_id, decided_on=decided_on, ends_case=ends_case,
                             actor=actor.stored())
        return True

    @event("CaseConfirmed")
    def _case_confirmed(self, case_id: UUID, decided_on: date, ends_case: bool,
                        actor: StoredActor) -> None:
        # Review decides; a late withdrawal does not undo its confirmation.
        self.status = Status.CONFIRMED
        self.case_id = case_id
        self.decided_on = decided_on
        self.case_active = not ends_case

    def record_rejection(self, case_id: UUID, decided_on: date, reasons: list[str],
                         actor: Actor) -> bool:
        if self.status is Status.REJECTED:
            return False
        self._case_rejected(case_id=case_id, decided_on=decided_on, reasons=reasons,
                            actor=actor.stored())
        return True

    @event("CaseRejected")
    def _case_rejected(self, case_id: UUID, decided_on: date, reasons: list[str],
                       actor: StoredActor) -> None:
        self.status = Status.REJECTED
        self.case_id = case_id
        self.decided_on = decided_on
        self.decision_reasons = reasons

    def record_termination(self, effective_month: str, reasons: list[str],
                           actor: Actor) -> bool:
        if self.status is Status.TERMINATED:
            return False
        self._case_terminated(effective_month=effective_month, reasons=reasons,
                              actor=actor.stored())
        return True

    @event("CaseTerminated")
    def _case_terminated(self, effective_month: str, reasons: list[str],
                         actor: StoredActor) -> None:
        self.status = Status.TERMINATED
        self.case_active = False
        self.decision_reasons = reasons

    def _require(self, allowed: Status | Iterable[Status], code: str, verb: str) -> None:
        ok = {allowed} if isinstance(allowed, Status) else set(allowed)
        if self.status not in ok:
            raise RuleViolation(code, f"an application that is {self.status} cannot be {verb}")


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise RuleViolation("intake.reason_required", "give the reason", field="reason")
    return reason


class Disclosure(Aggregate):
    """查看记录: one unmasked view of an application's sensitive fields (who, what, when, why).

    Its own aggregate, so that a view never contends with the application's commands.
    """

    @event("Recorded")
    def __init__(self, application_id: UUID, township: str, village: str, fields: list[str],
                 reason: str, actor: StoredActor) -> None:
        self.application_id = application_id
        self.township = township
        self.village = village
        self.fields = fields
        self.reason = reason
