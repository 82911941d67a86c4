"""One rule that turns ANY domain event into its audit record (issue 16).

The relay calls `AuditTrail.records` for every notification: each event gets an
`AuditEntry` (who, when, why, what changed, a Chinese label); an event that maps to no
integration contract is published as `AuditRecorded` with its own fields. Coverage is by
construction: a new event type is audited without new code (only a label in
`shared/audit_labels.py`, which the coverage test demands).

Sensitive values follow one rule, by field name and by shape, everywhere in the record:
resident IDs, bank accounts and phone numbers are masked (`shared.pii`'s masks), contact
details and secrets are dropped, and an aggregate may name fields it never lets out
(`AUDIT_WITHHELD`, e.g. a report about an official keeps its township to itself).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from shared.audit_labels import LABELS
from shared.contracts.audit import AuditChange, AuditEntry, AuditRecorded, AuditWho
from shared.pii import mask_bank_account, mask_phone, mask_resident_id

log = logging.getLogger(__name__)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# The event's bookkeeping, not its content.
BOOKKEEPING = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic",
                         "originator_id_type", "actor"})
# Never leave the service in an audit record: contact details, receipt-code secrets,
# whistle-blowers' and objectors' words and names, the sealed verification report.
DROPPED = frozenset({"contact", "code_salt", "code_digest", "reporter_name", "objector_name",
                     "text", "report"})
# Where a person wrote why: the one `why` of the record, in this order.
WHY_KEYS = ("reason", "reasons", "recusal_reason", "note", "notes", "method", "finding",
            "notice", "justification", "question", "answer", "corrective_action")
MAX_FIELD_CHARS = 4000  # a roster's rows stay in the store; the record says how many
MAX_ITEMS = 200

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9])")
_HEX_DIGEST = re.compile(r"[0-9a-f]{32,128}")
# Every pattern above needs 11 digits in a row: a text without them is returned as it is
# (most of an audit record's texts), without running the three substitutions.
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")


def label_key(source: str, event_class: type) -> str:
    return f"{source}.{event_class.__qualname__}"


def label_of(source: str, event_class: type) -> str | None:
    # "*.": the kernel's own events, recorded by every service (chain checkpoints).
    return (LABELS.get(label_key(source, event_class))
            or LABELS.get(label_key("*", event_class)))


def _mask_text(text: str) -> str:
    if _ELEVEN_DIGITS.search(text) is None or _HEX_DIGEST.fullmatch(text):
        return text  # a hash, not a number of a person
    text = _RESIDENT_ID.sub(lambda m: mask_resident_id(m.group()), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group()), text)
    return _LONG_DIGITS.sub(lambda m: mask_bank_account(m.group()), text)


def _by_name(name: str, value: str) -> str:
    lowered = name.lower()
    if "resident_id" in lowered or lowered in ("id_number", "id_card"):
        return mask_resident_id(value)
    if "account" in lowered:
        return mask_bank_account(value)
    if "phone" in lowered or "mobile" in lowered:
        return mask_phone(value)
    return _mask_text(value)


def jsonable(value: Any, name: str = "", withheld: frozenset[str] = frozenset()) -> Any:
    """The value as plain JSON, with the sealing rule applied at every depth."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value, name, withheld)
    if isinstance(value, str):
        return _by_name(name, value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, str(k), withheld) for k, v in value.items()
                if str(k) not in DROPPED and str(k) not in withheld}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v, name, withheld) for v in items]
    if isinstance(value, bytes):
        return f"[{len(value)} bytes]"
    return _mask_text(str(value))


def _bounded(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float) or (
            isinstance(value, str) and 6 * len(value) + 2 <= MAX_FIELD_CHARS):
        return value  # fits whatever its escapes (at most 6 characters per character)
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) <= MAX_FIELD_CHARS:
        return value
    return _omitted(len(value) if isinstance(value, list | dict) else None, len(text))


def _omitted(items: int | None, chars: int | None) -> dict[str, Any]:
    return {"omitted": "too large for the audit record; kept in the service's store",
            "items": items, "chars": chars}


def withheld_of(aggregate_class: type | None) -> frozenset[str]:
    return frozenset(getattr(aggregate_class, "AUDIT_WITHHELD", ()))


def event_fields(event: Any, withheld: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The event's own content, sealed by the rule and bounded in size."""
    out = {}
    for k, v in vars(event).items():
        if k in BOOKKEEPING or k.startswith("_") or k in DROPPED or k in withheld:
            continue
        if isinstance(v, list | tuple | dict) and len(v) > MAX_ITEMS:
            out[k] = _omitted(len(v), None)  # a roster's rows: not even walked
        else:
            out[k] = _bounded(jsonable(v, k, withheld))
    return out


def why_of(fields: Mapping[str, Any]) -> str | None:
    """What the person wrote as the reason, note, finding or notice, as one text."""
    parts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, dict):
            for k in WHY_KEYS:
                if k in value:
                    collect(value[k])
        elif value not in (None, "", True, False):
            parts.append(str(value))

    for key in WHY_KEYS:
        if key in fields:
            collect(fields[key])
    # One level down: a joint review member's recusal reason, a visit's notes.
    for key, value in fields.items():
        if key not in WHY_KEYS and isinstance(value, dict | list):
            nested = value if isinstance(value, list) else [value]
            for item in nested:
                if isinstance(item, dict):
                    collect(item)
    unique = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    return "; ".join(unique) or None


def who_of(actor: Mapping[str, Any] | None) -> AuditWho | None:
    if not actor or not actor.get("user_id"):
        return None
    return AuditWho(user_id=str(actor["user_id"]), role=str(actor.get("role") or "unknown"),
                    name=actor.get("name") or actor.get("display_name"),
                    township=actor.get("township"), village=actor.get("village"),
                    organisation=actor.get("org") or actor.get("organisation"))


_SCALARS = (str, int, float, bool, Decimal, date, datetime, Enum, UUID)


def state_of(aggregate: Any, withheld: frozenset[str]) -> dict[str, Any]:
    """The aggregate's plain values (status, amounts, deadlines…): what "what changed"
    compares. Collections are left out: the event's own fields describe those."""
    if aggregate is None:
        return {}
    return values_of(vars(aggregate), withheld)


def values_of(attributes: Mapping[str, Any], withheld: frozenset[str]) -> dict[str, Any]:
    """`state_of` from an aggregate's attributes (or a copy of its scalars: `plain_values`)."""
    return {k: jsonable(v, k, withheld) for k, v in attributes.items()
            if not k.startswith("_") and k not in DROPPED and k not in withheld
            and (v is None or isinstance(v, _SCALARS))}


def plain_values(aggregate: Any) -> dict[str, Any]:
    """The aggregate's scalar attributes as they are now: immutable values, so this shallow
    copy still says what they were after the aggregate changes (what `values_of` reads)."""
    return {k: v for k, v in vars(aggregate).items() if v is None or isinstance(v, _SCALARS)}


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[AuditChange]:
    # Every plain value that moved (bounded by the aggregate's attributes, not cut): folding
    # the changes replays the aggregate's state at any version (archive's point in time).
    return [AuditChange(field=k, old=before.get(k), new=after.get(k))
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


@dataclass(frozen=True)
class AuditRecord:
    entry: AuditEntry
    contract: AuditRecorded  # published when the event has no integration contract
    case_id: str | None
    household_id: str | None
    township: str | None
    aggregate: Any = None  # the aggregate right after the event (None if not replayable)


class AuditTrail:
    """Builds the records of a relay batch. The state before each event is the aggregate
    at the previous version (`repository.get(id, version=…)`), then the event is applied
    to it: the same projection the service itself uses, so "what changed" is exact."""

    def __init__(self, app: Any, source: str, remember: int = 0) -> None:
        self.app, self.source = app, source
        # The relay keeps each aggregate's state after the last event it mapped, so the next
        # event of it (the next commit, the next batch) is applied to that state instead of
        # replaying the aggregate from the store. Only a state exactly one version behind is
        # used, so a state left by a batch that failed to publish, or an event relayed by
        # another replica, falls back to the replay.
        self.states = RecentStates(remember)  # size 0: nothing kept between batches
        # The plain values (state_of) of each state above, by aggregate: (version, values),
        # so the next event's "before" is not walked a second time.
        self._values: RecentStates = RecentStates(max(remember, 1))

    def records(self, events: Iterable[Any]) -> list[AuditRecord]:
        states: dict[UUID, Any] = {}  # the aggregate after the batch's last event of it
        return [self.record(e, states) for e in events]

    def _before(self, event: Any, states: dict[UUID, Any]) -> Any:
        version = event.originator_version
        known = states.get(event.originator_id)
        if known is not None and known.version == version - 1:
            return known
        if version <= 1:
            return None
        return self.app.repository.get(event.originator_id, version=version - 1)

    def record_known(self, event: Any, before: Mapping[str, Any] | None,
                     after: Any) -> AuditRecord:
        """The record of an event whose aggregate is in hand: `after` the event, and the
        `plain_values` it had `before` (None for a new aggregate), as the writer holds them
        at commit. The same record `record` builds by replaying, without the replay."""
        withheld = withheld_of(_aggregate_class(type(event)))
        if before is None:
            old, new = {}, state_of(after, withheld)
        else:
            # An attribute the event did not reassign is the very object loaded: the same
            # value, so no change. Only the others are made plain and compared.
            now = vars(after)
            moved = {k for k in before.keys() | now.keys()
                     if k not in before or k not in now or before[k] is not now[k]}
            old = values_of({k: before[k] for k in moved if k in before}, withheld)
            new = values_of({k: now[k] for k in moved if k in now}, withheld)
        return self._assembled(event, withheld, changes_between(old, new), after)

    def record(self, event: Any, states: dict[UUID, Any] | None = None) -> AuditRecord:
        states = {} if states is None else states
        event_class = type(event)
        aggregate_class = _aggregate_class(event_class)
        withheld = withheld_of(aggregate_class)
        after = None
        try:
            before = self._before(event, states)
            known = self._values.get(event.originator_id)
            if before is not None and known is not None and known[0] == before.version:
                old = known[1]
            else:
                old = state_of(before, withheld)
            after = event.mutate(before)
            states[event.originator_id] = after
            new = state_of(after, withheld)
            self._values[event.originator_id] = (after.version, new)
            changes = changes_between(old, new)
        except Exception:  # an old event the current code cannot replay: no diff, still a record
            log.warning("audit: no state diff for %s %s v%d", self.source,
                        event_class.__qualname__, event.originator_version, exc_info=True)
            states.pop(event.originator_id, None)
            self._values.pop(event.originator_id, None)
            changes = []
        return self._assembled(event, withheld, changes, after)

    def _assembled(self, event: Any, withheld: frozenset[str], changes: list[AuditChange],
                   after: Any) -> AuditRecord:
        event_class = type(event)
        fields = event_fields(event, withheld)
        name = event_class.__qualname__
        entry = AuditEntry(
            event=name, label=label_of(self.source, event_class) or name,
            aggregate=name.split(".")[0], who=who_of(getattr(event, "actor", None)),
            when=event.timestamp.astimezone(BEIJING), why=why_of(fields), changes=changes)

        def where(attr: str) -> str | None:
            if attr in withheld:
                return None
            value = getattr(after, attr, None) if after is not None else None
            value = value if value is not None else fields.get(attr)
            return str(value) if value is not None else None

        return AuditRecord(entry, AuditRecorded(event=name, fields=fields),
                           where("case_id"), where("household_id"), where("township"), after)


class RecentStates(OrderedDict):  # type: ignore[type-arg]
    """A dict bounded to the `size` most recently stored aggregates."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def _aggregate_class(event_class: type) -> type | None:
    owner = event_class.__qualname__.split(".")[0]
    return getattr(sys.modules.get(event_class.__module__), owner, None)
