"""Loads the bank return reason codes (versioned data, `data/bank_return_codes.yaml`) and
checks them once at start-up: every resolution named is one the roster knows, every bank
code maps to an ISO code of its version."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from services.disbursement.domain import (
    Resolution,
    ReturnCode,
    ReturnCodebook,
    ReturnCodebooks,
)

DEFAULT_RETURN_CODES = Path(__file__).parent / "data" / "bank_return_codes.yaml"
ACCOUNT_STATES = ("closed", "blocked", "invalid")


def _version(v: dict[str, Any]) -> ReturnCodebook:
    known = {r.value for r in Resolution}
    codes: dict[str, ReturnCode] = {}
    for code, c in v["codes"].items():
        bad = [r for r in c["resolutions"] if r not in known]
        if bad or not c["resolutions"]:
            raise ValueError(f"return code {code}: unknown or no resolutions {bad}")
        if c.get("account") not in (None, *ACCOUNT_STATES):
            raise ValueError(f"return code {code}: account must be one of {ACCOUNT_STATES}")
        codes[code] = ReturnCode(code, c["text"], c["name"], c.get("account"),
                                 tuple(c["resolutions"]))
    schemes = {name: {str(k): str(iso) for k, iso in (m or {}).items()}
               for name, m in v["schemes"].items()}
    for name, m in schemes.items():
        if missing := sorted({iso for iso in m.values() if iso not in codes}):
            raise ValueError(f"scheme {name} maps to unknown codes {missing}")
    if v["unspecified"] not in codes or v["default_scheme"] not in schemes:
        raise ValueError("unspecified code and default scheme must be defined")
    effective = v["effective_from"]
    return ReturnCodebook(int(v["version"]), effective if isinstance(effective, date)
                          else date.fromisoformat(str(effective)), v["default_scheme"],
                          v["unspecified"], codes, schemes)


def load_return_codes(path: Path = DEFAULT_RETURN_CODES) -> ReturnCodebooks:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    versions = sorted((_version(v) for v in data["versions"]), key=lambda v: v.effective_from)
    if not versions:
        raise ValueError(f"{path}: no versions")
    return ReturnCodebooks(tuple(versions))
