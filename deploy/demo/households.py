"""Synthetic households for the demo, reproducible from a seed (random.Random(seed)).

Everything here is invented: names, resident IDs (valid check digits, division code 469028,
birth dates that agree), incomes. Villages come from the county's region data. Each
household also carries its *plan*: what happens to it this month (returned for completion
first, investigated by a contractor, objected to, adjusted …), so that the scenario driver
and the end-to-end test agree on the story without sharing any service code.

Incomes are chosen with wide margins around the policy lines (eligible households well
below the 低保 standard, refused ones far above it), so the story does not hinge on one
yuan of a particular policy version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shared.bankcards import unionpay_card
from shared.pii import make_resident_id
from shared.regions import County

DIVISION = "469028"
SURNAMES = tuple("黎符王陈吴林李张周郑羊卓胡邢蒲黄")
GIVEN = ("阿婆", "阿公", "阿妹", "阿弟", "小明", "小红", "海花", "海生", "春梅", "秋菊", "文强",
         "志华", "亚清", "亚妹", "光荣", "德胜", "玉兰", "金凤", "国平", "建国", "椰香", "三才",
         "木生", "水英", "石养")
BANKS = ("海南农信", "中国农业银行", "中国邮政储蓄银行")
# Kinds in proportion: most cases are 低保; every kind appears in every township.
KIND_WEIGHTS = (("dibao", 45), ("tekun", 18), ("linshi", 22), ("dibao_edge", 15))
# The first kinds of every township: each kind, and enough 低保 for the month's stories.
BASE_KINDS = ("dibao", "tekun", "linshi", "dibao_edge", "dibao", "linshi", "dibao", "dibao")
REFUSED_AT = 4  # this 低保 household's income is far above the standard
SELF_CARE = ("eating", "dressing", "bed_transfer", "toileting", "indoor_walking", "bathing")


@dataclass
class Person:
    name: str
    relation: str
    birth_date: date
    resident_id: str
    work_capacity: str = "full"
    disability: dict[str, Any] | None = None
    serious_illness: bool = False
    student: bool = False
    # (kind, amount over `months`, months): monthly amount × 6 keeps every figure exact.
    incomes: list[tuple[str, Decimal, int]] = field(default_factory=list)

    def filing(self, today: date, signed: bool = True) -> dict[str, Any]:
        adult = _age(self.birth_date, today) >= 18
        return {
            "name": self.name, "resident_id": self.resident_id, "relation": self.relation,
            "birth_date": self.birth_date.isoformat(), "work_capacity": self.work_capacity,
            "disability": self.disability, "serious_illness": self.serious_illness,
            "student": self.student, "authorization_signed": signed and adult,
            "incomes": [{"kind": k, "amount": str(a), "months": m} for k, a, m in self.incomes],
        }


@dataclass
class Household:
    """One household and what happens to it this month."""

    number: int
    township: str
    village: str
    urban: bool
    kind: str
    members: list[Person]
    linshi_type: str | None = None
    bank: str = BANKS[0]
    account: str = ""
    deposit: Decimal = Decimal(0)
    close_relative: dict[str, str] | None = None  # 近亲属备案: names the related official
    # --- the plan ---
    eligible: bool = True  # the joint review approves (else it refuses, with reasons)
    returned_first: bool = False  # returned for completion (一次性告知) before acceptance
    contractor: bool = False  # investigated by the contractor (政府购买服务)
    interview: bool = False  # a neighbour interview besides the home visit
    objection: str | None = None  # "dismissed" or "upheld" (异议成立)
    hidden_wage: Decimal = Decimal(0)  # monthly wage the re-investigation finds (upheld)
    advance: bool = False  # 急难型 先行救助: help first, record completed afterwards
    band: str | None = None  # 临时救助 band
    instalments: int = 1
    self_care: dict[str, bool] | None = None  # 特困 self-care assessment
    care_mode: str | None = None
    adjust_wage: Decimal = Decimal(0)  # dynamic management: a new wage → adjustment
    terminate: bool = False  # dynamic management: 注销
    last_month: bool = False  # decided last month: on the books, rechecked this month

    @property
    def key(self) -> str:
        return f"H{self.number:04d}"

    @property
    def applicant(self) -> Person:
        return next(p for p in self.members if p.relation == "self")

    def materials(self, today: date) -> list[str]:
        """The checklist items this household hands in (all of them)."""
        basic = {"dibao": ["application_form", "commitment_letter", "authorization_form",
                           "hukou_booklet", "id_cards"],
                 "dibao_edge": ["application_form", "commitment_letter", "authorization_form",
                                "hukou_booklet", "id_cards"],
                 "tekun": ["application_form", "commitment_letter", "authorization_form",
                           "hukou_booklet", "id_cards"],
                 "linshi": ["application_form", "authorization_form", "id_cards",
                            "hukou_booklet", "hardship_proof"]}[self.kind]
        out = [*basic, "entrustment_letter"]  # filed by the village committee (委托)
        if any(p.incomes for p in self.members) and self.kind in ("dibao", "dibao_edge"):
            out.append("income_proof")
        if any(p.serious_illness for p in self.members) and self.kind != "linshi":
            out.append("illness_diagnosis")
        if self.kind != "linshi" and any(
                p.student and _age(p.birth_date, today) >= 18 for p in self.members):
            out.append("student_certificate")
        return out

    def filing(self, today: date, assistant_name: str, *, complete: bool = True
               ) -> dict[str, Any]:
        """The FilingContent intake takes (a resubmission sends all of it again)."""
        follow = self.advance  # 急难型: materials and signatures may follow acceptance
        materials = self.materials(today)
        if follow:
            materials = ["application_form", "hardship_proof", "entrustment_letter"]
        elif not complete:
            materials = [m for m in materials if m != "hukou_booklet"]
        body: dict[str, Any] = {
            "members": [p.filing(today, signed=not follow) for p in self.members],
            "assets": ([{"kind": "deposit", "value": str(self.deposit)}]
                       if self.deposit else []),
            "bank_account": {"bank": self.bank, "holder_name": self.applicant.name,
                             "account": self.account} if self.kind != "dibao_edge" else None,
            "materials": materials,
            "close_relative_declared": self.close_relative is not None,
            "close_relatives": [self.close_relative] if self.close_relative else [],
            "entrustment": {"agent_name": assistant_name, "agent_relation": "村民政协管员",
                            "entrusted_on": today.isoformat()},
        }
        if self.kind == "linshi":
            body["residence_basis"] = "hukou"
        return body

    def submission(self, today: date, assistant_name: str) -> dict[str, Any]:
        return {**self.filing(today, assistant_name, complete=not self.returned_first),
                "kind": self.kind, "linshi_type": self.linshi_type,
                "township": self.township, "village": self.village,
                "filed_by": "village_committee"}


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class _People:
    """Unique, valid resident IDs: (birth date, sequence, sex) never repeats."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today
        self.used: set[str] = set()

    def born(self, age_from: int, age_to: int) -> date:
        # Keep birthdays away from today so an age never flips while the demo runs.
        while True:
            days = self.rng.randint(age_from * 365 + 5, age_to * 365 + 360)
            d = self.today - timedelta(days=days)
            if abs((d.replace(year=2000) - self.today.replace(year=2000)).days) > 3 \
                    and not (d.month == 2 and d.day == 29):
                return d

    def person(self, surname: str, relation: str, age_from: int, age_to: int,
               sex: str | None = None, **extra: Any) -> Person:
        sex = sex or self.rng.choice(("male", "female"))
        born = self.born(age_from, age_to)
        while True:
            rid = make_resident_id(DIVISION, born, self.rng.randint(0, 99), sex)
            if rid not in self.used:
                self.used.add(rid)
                break
        name = surname + self.rng.choice(GIVEN)
        return Person(name=name, relation=relation, birth_date=born, resident_id=rid, **extra)


def _wage(amount: int) -> tuple[str, Decimal, int]:
    return ("wage", Decimal(amount * 6), 6)


def _pension() -> tuple[str, Decimal, int]:
    return ("basic_resident_pension", Decimal(183 * 6), 6)  # not counted (DOMAIN.md)


def _household_people(gen: _People, rng: random.Random, kind: str, eligible: bool
                      ) -> list[Person]:
    surname = rng.choice(SURNAMES)
    if kind == "tekun":
        # Elderly, alone, no capacity to work; or a severely disabled adult.
        if rng.random() < 0.75:
            p = gen.person(surname, "self", 62, 88, work_capacity="none", incomes=[_pension()])
        else:
            p = gen.person(surname, "self", 30, 55, work_capacity="none",
                           disability={"kind": rng.choice(("physical", "intellectual")),
                                       "grade": 1})
        return [p]
    size = rng.choices((1, 2, 3, 4, 5), weights=(15, 25, 30, 20, 10))[0]
    head_age = (rng.randint(28, 50), rng.randint(51, 78))[rng.random() < 0.35]
    head = gen.person(surname, "self", head_age, head_age,
                      work_capacity=rng.choice(("full", "partial", "partial")))
    people = [head]
    if size >= 2:
        people.append(gen.person(rng.choice(SURNAMES), "spouse", max(22, head_age - 6),
                                 head_age + 3, work_capacity=rng.choice(("full", "partial"))))
    for _ in range(size - len(people)):
        if head_age < 40 or rng.random() < 0.6:
            people.append(gen.person(surname, "child", 3, min(17, max(4, head_age - 22))))
        else:
            people.append(gen.person(surname, "parent", head_age + 20, head_age + 30,
                                     work_capacity="none", incomes=[_pension()]))
    for p in people[1:]:
        if rng.random() < 0.12:
            p.disability = {"kind": rng.choice(("physical", "visual", "hearing")),
                            "grade": rng.randint(1, 4)}
        elif rng.random() < 0.08:
            p.serious_illness = True
    return people


def _set_income(rng: random.Random, people: list[Person], per_capita: int) -> None:
    """Puts a household's counted income on its working-age earner (or the applicant)."""
    earner = next((p for p in people if p.work_capacity != "none"
                   and p.relation in ("self", "spouse")), people[0])
    total = per_capita * len(people)
    if total > 0:
        earner.incomes.append(_wage(total))


def generate(county: County, seed: int, townships: list[str], per_township: int,
             today: date) -> list[Household]:
    """`per_township` households in each township, every kind represented in each."""
    rng = random.Random(seed)
    gen = _People(rng, today)
    out: list[Household] = []
    for t_index, code in enumerate(townships):
        township = county.township(code)
        kinds = list(BASE_KINDS)  # every kind, and the month's stories, in every township
        kinds += rng.choices([k for k, _ in KIND_WEIGHTS], weights=[w for _, w in KIND_WEIGHTS],
                             k=max(0, per_township - len(kinds)))
        kinds = kinds[:max(per_township, 4)]
        for i, kind in enumerate(kinds):
            village = rng.choice(township.villages)
            number = len(out) + 1
            # One refusal per township at a fixed place, more at random beyond the base.
            eligible = i != REFUSED_AT and not (
                i >= len(BASE_KINDS) and kind in ("dibao", "dibao_edge") and rng.random() < 0.2)
            people = _household_people(gen, rng, kind, eligible)
            h = Household(number=number, township=code, village=village.code,
                          urban=village.urban, kind=kind, members=people,
                          bank=rng.choice(BANKS),
                          account=unionpay_card(
                              "62" + "".join(str(rng.randint(0, 9)) for _ in range(16))),
                          deposit=Decimal(rng.choice((0, 0, 1500, 3000, 6000))),
                          eligible=eligible)
            if kind == "dibao":
                _set_income(rng, people, rng.randint(0, 300) if eligible
                            else rng.randint(1500, 2400))
            elif kind == "dibao_edge":
                _set_income(rng, people, rng.randint(780, 900) if eligible
                            else rng.randint(1800, 2600))
            elif kind == "linshi":
                h.linshi_type = "emergency" if i % 2 == 0 else "expenditure"
                _set_income(rng, people, rng.randint(0, 400))
                if h.linshi_type == "emergency":
                    h.advance, h.band = True, rng.choice(("general", "serious"))
                else:
                    h.band = rng.choice(("general", "serious", "severe"))
                    h.instalments = rng.choice((1, 2))
            elif kind == "tekun":
                h.self_care = {a: rng.random() < 0.6 for a in SELF_CARE}
                h.care_mode = rng.choice(("dispersed", "dispersed", "centralized"))
            h.returned_first = rng.random() < 0.2 and not h.advance
            h.contractor = rng.random() < 0.3
            h.interview = rng.random() < 0.4
            out.append(h)
        # The month's special stories, placed deterministically per township.
        mine = [h for h in out if h.township == code]
        dibao = [h for h in mine if h.kind == "dibao" and h.eligible]
        if t_index == 0:
            # A 临时救助 above the township ceiling: the county bureau approves (一事一议).
            big = next((h for h in mine if h.kind == "linshi" and not h.advance), None)
            if big is not None:
                big.band, big.instalments = "major", 3
        if dibao:
            # A close relative of township staff (近亲属备案): a panel member recuses.
            dibao[0].close_relative = {"member_name": dibao[0].applicant.name,
                                       "official_name": panel(code)[5]["name"],
                                       "official_post": "township_staff",
                                       "relationship": "堂兄弟"}
        # Public objections are few (and rate-limited per client): two dismissed, one upheld.
        if t_index in (0, 2) and len(dibao) >= 2:
            dibao[1].objection = "dismissed"
        if t_index == 1 and len(dibao) >= 2:
            # 异议成立: a neighbour says a member works in Sanya; re-investigation finds it.
            dibao[1].objection, dibao[1].hidden_wage = "upheld", Decimal(120)
        # Last month's caseload, already on the books: this month rechecks it.
        for h in [*dibao[2:], *[h for h in mine if h.kind == "tekun"][:1]]:
            h.last_month = True
        # Dynamic management of entitlements already on the books: one adjusted, one ended.
        if t_index == 0 and len(dibao) >= 3:
            dibao[2].adjust_wage = Decimal(150)
        if t_index == 1 and len(dibao) >= 3:
            dibao[2].terminate = True
    return out


def in_words(code: str) -> str:
    """Digits as Chinese numerals (100 → 一零零): invented names told apart by a code still
    pass intake's name rule (letters only, shared/data/policy/intake.yaml)."""
    return code.translate(str.maketrans("0123456789", "零一二三四五六七八九"))


def panel(township: str) -> list[dict[str, Any]]:
    """The township's review-and-confirmation group (审核确认小组): 6 members."""
    t = in_words(township[-3:])
    return [
        {"user_id": f"lead-{t}", "name": f"镇长{t}", "role": "leader"},
        {"user_id": f"dep-{t}", "name": f"副镇长{t}", "role": "deputy"},
        {"user_id": f"jw-{t}", "name": f"纪委委员{t}", "role": "discipline"},
        {"user_id": f"dir-{t}", "name": f"中心主任{t}", "role": "member"},
        {"user_id": f"mz-{t}", "name": f"民政专干{t}", "role": "member"},
        {"user_id": f"bc-{t}", "name": f"包村干部{t}", "role": "member"},
    ]
