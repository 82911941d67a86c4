"""`lingshui`: the operator's one command line (docs/operations.md).

Each command reads the named service's settings from the environment (<SVC>_…), exactly as
the service itself would, so run it where the service runs (its container, pod or host):

    lingshui check-config [SERVICE…]     settings valid, key files present and readable
    lingshui migrate [SERVICE…]          kernel tables to the newest revision, read models
                                         kept, stamped or rebuilt (start-up does the same)
    lingshui rebuild-projections SERVICE rebuild a service's read models (shadow tables, swap)
    lingshui backlog [SERVICE…]          unpublished events and consumers' unfinished
                                         messages (exit 1 unless all caught up)
    lingshui verify-chain [SOURCE…]      verify archive's copy of every service's hash chain
    lingshui create-keys DIRECTORY       a county's production key files, once
    lingshui verify-seal FILE SEAL --trust-list F   a seal checked offline (trust list only)
    lingshui seal-authority --dir D …    provision, rotate, revoke seal keys; export the list

A command written elsewhere as a module with `main(argv) -> int` joins with one line in
PLUGGED below.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

SERVICES = ("intake", "review", "publicity", "disbursement", "archive")
SEALING = ("disbursement", "archive")
# Commands that live in their own module as `main(argv: list[str] | None) -> int`; their
# arguments pass through untouched. One line each.
PLUGGED: dict[str, tuple[str, str]] = {
    "create-keys": ("deploy.compose.make_secrets", "a county's production key files, once "
                                                    "(deploy/compose/make_secrets.py)"),
    "verify-seal": ("deploy.verify_seal", "check FILE and its SEAL offline against the "
                                          "county's seal trust list (deploy/verify_seal.py)"),
    "seal-authority": ("deploy.seal_authority", "provision, rotate, revoke seal keys; export "
                                                "the trust list (deploy/seal_authority.py)"),
}

cli = typer.Typer(help="Lingshui social assistance: operator commands.", no_args_is_help=True,
                  add_completion=False)
Services = Annotated[list[str] | None, typer.Argument(help="services (default: all)")]


def _services(names: list[str] | None) -> list[str]:
    chosen = list(names or SERVICES)
    unknown = [n for n in chosen if n not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service {', '.join(unknown)}; one of {SERVICES}")
    return chosen


def _settings(service: str) -> Any:
    module = importlib.import_module(f"services.{service}.main")
    cls = next(v for k, v in vars(module).items()
               if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type))
    return cls()


def _runtime(service: str) -> Any:
    module = importlib.import_module(f"services.{service}.main")
    return module.build(_settings(service))


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _readable(path: Path | None) -> str | None:
    """None if the file (or every file of the directory) can be read by this process."""
    if path is None:
        return None
    try:
        if not path.exists():
            return f"{path}: missing"
    except PermissionError:  # a parent directory this uid may not enter
        return f"{path}: not readable by uid {os.getuid()}"
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        return f"{path}: directory not readable by uid {os.getuid()}"
    unreadable = [str(p) for p in files if not os.access(p, os.R_OK)]
    return f"not readable by uid {os.getuid()}: {', '.join(unreadable)}" if unreadable else None


def config_problems(service: str) -> list[str]:
    """What would stop the service, or stop it late (a seal key it cannot read at month-end)."""
    try:
        s = _settings(service)
    except ValidationError as e:
        return [f"{'.'.join(map(str, err['loc'])) or service}: {err['msg']}"
                for err in e.errors()]
    files: list[Path | None] = [s.resolved_keyring_file, s.resolved_trust_list_file,
                                s.resolved_signing_key_file, s.nats_nkey_seed_file]
    if s.auth_jwks_url is None:
        files.append(s.resolved_public_key_file)
    if s.encrypt_at_rest:
        files.append(s.resolved_cipher_key_file)
    if service in SEALING:
        files.append(s.resolved_seal_keys_dir)
    problems = []
    for f in files:
        creatable = s.bus_keys_create_missing and f in (
            s.resolved_keyring_file, s.resolved_trust_list_file, s.resolved_signing_key_file)
        if f is not None and creatable and _readable(f) == f"{f}: missing":
            continue  # the local stack makes these on first start
        if (p := _readable(f)) is not None:
            problems.append(p)
    return problems


@cli.command("check-config")
def check_config(services: Services = None) -> None:
    """Validate each service's settings and that its key files exist and are readable."""
    bad = {svc: p for svc in _services(services) if (p := config_problems(svc))}
    for svc in _services(services):
        typer.echo(f"{svc}: " + ("ok" if svc not in bad else "; ".join(bad[svc])))
    raise typer.Exit(1 if bad else 0)


@cli.command()
def migrate(services: Services = None) -> None:
    """Bring each service's kernel tables to the newest revision and its read models to the
    code's shape (rebuilding from the events what changed). Safe to run again."""
    for svc in _services(services):
        rt = _runtime(svc)
        try:
            typer.echo(f"{svc}: " + json.dumps(rt.app.schema_report))
        finally:
            rt.app.close()


@cli.command("rebuild-projections")
def rebuild_projections(service: str) -> None:
    """Rebuild one service's read models from its events (archive's: and every stream) into
    shadow tables swapped in when complete; progress on stderr. The running service can do
    the same (POST /ops/rebuild-read-models)."""
    from shared.rebuild import RebuildProgress, print_progress

    (svc,) = _services([service])
    if svc == "archive":
        from services.archive.main import rebuild_offline

        typer.echo(f"rebuilt archive read models: {json.dumps(asyncio.run(rebuild_offline()))}")
        return
    rt = _runtime(svc)
    progress = RebuildProgress(svc)
    progress.listen(print_progress())
    try:
        n = rt.app.rebuild_projections(progress=progress)
        typer.echo(f"rebuilt {svc} read models from {n} events")
    finally:
        rt.app.close()


@cli.command()
def backlog(services: Services = None) -> None:
    """Each service's unpublished events and its consumers' unfinished upstream messages."""
    report, caught_up = {}, True
    for svc in _services(services):
        rt = _runtime(svc)
        try:
            report[svc] = asyncio.run(rt.inspect_backlog())
        finally:
            rt.app.close()
        caught_up = caught_up and report[svc]["caught_up"]
    _print(report)
    raise typer.Exit(0 if caught_up else 1)


@cli.command("verify-chain")
def verify_chain(sources: Annotated[list[str] | None, typer.Argument(
        help="services whose chains to verify (default: all)")] = None) -> None:
    """Verify archive's copy of each service's hash chain from genesis (exit 1 if broken)."""
    from shared.auth import Principal, Role

    chosen = _services(sources)
    rt = _runtime("archive")
    operator = Principal(user_id="operator:lingshui-cli", role=Role.COUNTY_CENTRE)
    try:
        results = {s: rt.app.verify_stream(operator, s, 1, None) for s in chosen}
    finally:
        rt.app.close()
    _print({s: {"ok": r["ok"], "checked": r["checked"], "first_broken": r["first_broken"],
                "completeness": r.get("completeness")} for s, r in results.items()})
    raise typer.Exit(0 if all(r["ok"] for r in results.values()) else 1)


def _plug(name: str, module: str, help_text: str) -> None:
    @cli.command(name, help=help_text, add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def run(ctx: typer.Context) -> None:
        raise typer.Exit(importlib.import_module(module).main(list(ctx.args)) or 0)


for _name, (_module, _help) in PLUGGED.items():
    _plug(_name, _module, _help)


def main() -> None:
    cli(prog_name="lingshui")


if __name__ == "__main__":
    sys.exit(main())
