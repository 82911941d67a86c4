"""Administrative divisions of a county: township-level units (乡镇) and villages (村/社区).

Region data is data, not code: each county is one JSON file named by its 6-digit
division code, shipped in `shared/data/regions/` or supplied by the operator, so
the same software serves another county unchanged.

Codes follow the national statistical division codes: 9 digits for a township
(county code + 3), 12 digits for a village or residents' community (township
code + 3).  Whether a village is urban matters because 低保 standards differ for
urban and rural residents.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

__all__ = [
    "SHIPPED_REGIONS_DIR",
    "County",
    "NotTownship",
    "RegionDataError",
    "Township",
    "UnknownRegion",
    "Village",
    "load_county",
]

SHIPPED_REGIONS_DIR = Path(__file__).parent / "data" / "regions"

_COUNTY_CODE = re.compile(r"\d{6}")


class UnknownRegion(KeyError):
    """A region code (or name) that the county's data does not contain."""

    def __str__(self) -> str:
        # KeyError would print the message quoted like a dict key.
        return str(self.args[0]) if self.args else ""


class RegionDataError(ValueError):
    """A county region file is missing pieces or inconsistent."""


class _Frozen(BaseModel):
    # Operator files are hand-edited: reject unknown keys instead of ignoring typos.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Village(_Frozen):
    """A village committee (村委会, kind "village") or residents' community (居委会/社区)."""

    code: str
    name: str
    kind: Literal["village", "community"]
    urban: bool


class Township(_Frozen):
    """A township-level unit: town (镇) or township (乡)."""

    code: str
    name: str
    pinyin: str
    villages: tuple[Village, ...]


class NotTownship(_Frozen):
    """A unit inside the county that people mistake for a township, e.g. a state farm."""

    name: str
    aliases: tuple[str, ...] = ()
    kind: Literal["state_farm", "state_forestry", "other"]


class County(_Frozen):
    """A county (县级) with its townships; `seat` is the township holding the county seat."""

    code: str
    name: str
    seat: str
    townships: tuple[Township, ...]
    villages_are_sample: bool
    note: str = ""
    not_townships: tuple[NotTownship, ...] = ()

    _townships: dict[str, Township] = PrivateAttr(default_factory=dict)
    _villages: dict[str, tuple[Township, Village]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _codes_are_consistent(self) -> County:
        problems: list[str] = []
        if not _COUNTY_CODE.fullmatch(self.code):
            problems.append(f"county code {self.code!r} must be 6 digits")
        seen: set[str] = set()
        for township in self.townships:
            if not re.fullmatch(re.escape(self.code) + r"\d{3}", township.code):
                problems.append(
                    f"township {township.name} code {township.code!r} must be "
                    f"{self.code} + 3 digits"
                )
            for village in township.villages:
                if not re.fullmatch(re.escape(township.code) + r"\d{3}", village.code):
                    problems.append(
                        f"village {village.name} code {village.code!r} must be "
                        f"{township.code} + 3 digits"
                    )
            for code in (township.code, *(v.code for v in township.villages)):
                if code in seen:
                    problems.append(f"duplicate code {code}")
                seen.add(code)
        if self.seat not in {t.code for t in self.townships}:
            problems.append(f"seat {self.seat!r} is not one of the townships")
        township_names = {t.name for t in self.townships}
        for unit in self.not_townships:
            clash = township_names & {unit.name, *unit.aliases}
            if clash:
                problems.append(f"{', '.join(sorted(clash))} listed both as township and not")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_post_init(self, __context: object) -> None:
        self._townships = {t.code: t for t in self.townships}
        self._villages = {v.code: (t, v) for t in self.townships for v in t.villages}

    @property
    def township_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.townships)

    def township(self, code: str) -> Township:
        try:
            return self._townships[code]
        except KeyError:
            raise UnknownRegion(self._explain_unknown_township(code)) from None

    def village(self, code: str) -> tuple[Township, Village]:
        """The village (or community) with this code, and the township it belongs to."""
        try:
            return self._villages[code]
        except KeyError:
            sample = " (the village list is only a sample)" if self.villages_are_sample else ""
            raise UnknownRegion(
                f"unknown village code {code!r} in {self.name} ({self.code}){sample}"
            ) from None

    def is_village_of(self, village_code: str, township_code: str) -> bool:
        """Whether the village lies in the township; False for codes the county lacks."""
        found = self._villages.get(village_code)
        return found is not None and found[0].code == township_code

    def _explain_unknown_township(self, code: str) -> str:
        for unit in self.not_townships:
            if code in (unit.name, *unit.aliases):
                what = {"state_farm": "a state farm", "state_forestry": "a state forestry company"}
                full_name = "" if code == unit.name else f" ({unit.name})"
                return (
                    f"{code!r}{full_name} is {what.get(unit.kind, 'a unit')} inside "
                    f"{self.name}, not a township-level unit; use one of the township codes "
                    f"{', '.join(self.township_codes)}"
                )
        for township in self.townships:
            if code in (township.name, township.pinyin):
                return f"{code!r} is a township name; use its code {township.code}"
        if code in self._villages:
            township = self._villages[code][0]
            return f"{code!r} is a village code; its township is {township.code} {township.name}"
        return f"unknown township code {code!r} in {self.name} ({self.code})"


def load_county(code: str = "469028", extra_dir: Path | None = None) -> County:
    """The county's regions; a `<code>.json` in `extra_dir` wins over the shipped one.

    Cached: region data changes by release or restart, not per request.
    """
    if not _COUNTY_CODE.fullmatch(code):
        raise UnknownRegion(f"county code {code!r} must be 6 digits")
    # Normalised arguments, so load_county() and load_county("469028") share one entry.
    return _load_county(code, Path(extra_dir) if extra_dir is not None else None)


@cache
def _load_county(code: str, extra_dir: Path | None) -> County:
    candidates = [d / f"{code}.json" for d in (extra_dir, SHIPPED_REGIONS_DIR) if d is not None]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UnknownRegion(
            f"no region data for county {code}; looked for " + ", ".join(str(p) for p in candidates)
        )
    try:
        county = County.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise RegionDataError(f"cannot read region data {path}: {exc}") from exc
    except ValidationError as exc:
        raise RegionDataError(f"invalid region data {path}: {_describe(exc)}") from exc
    if county.code != code:
        raise RegionDataError(f"invalid region data {path}: holds county {county.code}, not {code}")
    return county


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(map(str, error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
