"""The compose layout, without Docker: the secrets made and owned exactly as
docs/operations.md says (make_secrets.py, then the guide's own chown/chmod lines), each
service's environment taken from docker-compose.yml with /run/secrets mapped onto that tree,
and the process run as the image's uid 10001 (setpriv). Disbursement seals a month's
statistics table with the township's provisioned seal key; every service's check-config is
clean. With the guide's old, non-recursive chown the seal key stays root-only and both fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shared.auth import ensure_dev_keypair
from tests.support.settings import ROOT, interpolate, service_names

UID = 10001
CI = os.environ.get("CI") == "true"
pytestmark = pytest.mark.skipif(
    not CI and (os.geteuid() != 0 or shutil.which("setpriv") is None),
    reason="needs root and setpriv to run as uid 10001 (CI runs as root)")

SEAL_A_MONTH = r'''
import csv, io, sys
from datetime import date, datetime
from services.disbursement.bank_files import bank_file_csv
from services.disbursement.main import DisbursementSettings, build_application
from shared.auth import Principal, Role
from shared.pii import Keyring
from tests.support.disbursement import CHINA_TZ, china, started, upstream
from tests.support.places import YELIN

settings = DisbursementSettings()
app = build_application(settings)
app.today = lambda: date(2026, 6, 16)
app.now = lambda: datetime(2026, 6, 16, 9, 0, tzinfo=CHINA_TZ)
ring = Keyring.load_or_create(settings.resolved_keyring_file)
clerk = Principal(user_id="clerk-yelin", role=Role.TOWNSHIP_CLERK, township=YELIN)
app.record_entitlement_started(
    started(ring, amount="620.00", start_month="2026-06", account="6222020000000007"),
    upstream(china(date(2026, 5, 20))))
for kind in ("tekun", "linshi", "dibao"):
    app.draft_roster(clerk, YELIN, "2026-06", kind)
    app.lock_roster(clerk, YELIN, "2026-06", kind)
_, content = app.create_export(clerk, YELIN, "2026-06", "dibao", "csv")
rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))[1:]
app.import_bank_return(clerk, YELIN, "2026-06", "dibao", "ret.csv", bank_file_csv(
    [(r[3], r[2], r[4], "paid", f"B{n}") for n, r in enumerate(rows)]))
stats = app.seal_statistics(clerk, YELIN, "2026-06")
print("sealed", stats.figures["total"]["paid"], *sorted(d["document_kind"]
                                                       for d in stats.documents))
'''


@pytest.fixture(autouse=True, scope="module")
def checkout_readable_by_10001() -> None:
    """The code and interpreter themselves must be reachable by uid 10001 (the image copies
    them world-readable); a checkout under a private home directory is not."""
    probe = subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                            sys.executable, "-c", "import deploy.cli"],
                           env={"PYTHONPATH": str(ROOT)}, cwd="/", capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"this checkout ({ROOT}) or {sys.executable} is not readable by uid "
                    f"{UID}: {probe.stderr.strip()[-200:]}")


def guide_commands() -> list[str]:
    """The guide's ownership lines for the compose secrets, as the operator types them."""
    text = (ROOT / "docs/operations.md").read_text()
    lines = re.findall(r"^sudo (ch(?:own|mod) .*deploy/compose/secrets\S*)$", text, re.M)
    assert lines, "docs/operations.md gives no chown of deploy/compose/secrets"
    return lines


@pytest.fixture
def layout() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="lingshui-layout-"))
    base.chmod(0o755)  # uid 10001 must reach the tree, as it reaches /run/secrets
    from deploy.compose.make_secrets import main as make_secrets

    secrets = base / "deploy/compose/secrets"
    assert make_secrets([str(secrets)]) == 0
    _, public = ensure_dev_keypair(base / "idp")
    shutil.copy(public, secrets / "jwt-public.pem")
    (base / "var").mkdir()
    os.chown(base / "var", UID, UID)  # the image's /var/lib/lingshui
    yield base
    shutil.rmtree(base, ignore_errors=True)


def own(base: Path, commands: list[str]) -> None:
    for command in commands:
        subprocess.run(command, shell=True, cwd=base, check=True)


def environment(base: Path, service: str) -> dict[str, str]:
    """docker-compose.yml's environment of a service, its /run/secrets files mapped onto the
    tree; SQLite under the var volume instead of the PostgreSQL container, no exporter."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secret_files = {name: interpolate(s["file"]).replace("./", "", 1)
                    for name, s in compose["secrets"].items()}
    svc = compose["services"][service]
    volumes = [interpolate(m).split(":") for m in svc.get("volumes", [])]
    mounts = {v[1]: v[0].replace("./", "", 1) for v in volumes if "/run/secrets/" in v[1]}
    env = {"PATH": os.environ["PATH"], "HOME": str(base / "var"), "TZ": "Pacific/Pago_Pago"}
    p = service.upper() + "_"
    for key, value in (svc.get("environment") or {}).items():
        value = interpolate(str(value))
        if value.startswith("/run/secrets/"):
            name = value.removeprefix("/run/secrets/")
            value = str(base / (mounts.get(value) or secret_files[name]))
        env[key] = value
    env.update({p + "VAR_DIR": str(base / "var"), p + "TELEMETRY_EXPORTER": "none"})
    env.pop(p + "DATABASE_URL", None)
    return env


def as_uid_10001(base: Path, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *argv],
        env={**environment(base, service), "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        capture_output=True, text=True, timeout=300)


def test_the_guides_layout_lets_uid_10001_seal_a_statistics_table(layout: Path) -> None:
    own(layout, guide_commands())
    sealed = as_uid_10001(layout, "disbursement", sys.executable, "-c", SEAL_A_MONTH)
    assert sealed.returncode == 0, sealed.stderr[-3000:]
    assert sealed.stdout.split() == ["sealed", "620.00", "statistics_pdf", "statistics_xlsx"]
    cli = [sys.executable, "-m", "deploy.cli", "check-config"]
    for service in service_names():
        out = as_uid_10001(layout, service, *cli, service)
        assert (out.returncode, out.stdout.strip()) == (0, f"{service}: ok"), out.stdout + \
            out.stderr[-2000:]


def test_the_old_non_recursive_chown_leaves_the_seal_keys_unreadable(layout: Path) -> None:
    # Compose mounts each file on its own, so only the files' and seals/'s modes count.
    own(layout, ["chown 10001:10001 deploy/compose/secrets/*",
                 "chmod 0755 deploy/compose/secrets"])
    out = as_uid_10001(layout, "disbursement", sys.executable, "-m", "deploy.cli",
                       "check-config", "disbursement")
    assert out.returncode == 1 and "not readable by uid 10001" in out.stdout, out.stdout
    assert "seals/" in out.stdout
    sealed = as_uid_10001(layout, "disbursement", sys.executable, "-c", SEAL_A_MONTH)
    assert sealed.returncode != 0 and "Permission" in sealed.stderr, sealed.stderr[-2000:]


