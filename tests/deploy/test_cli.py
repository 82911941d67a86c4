"""The operator CLI (`lingshui`, deploy/cli.py), run as an operator would: settings from the
environment, a real store, the real nats-server for the backlog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.cli import cli
from shared.natsauth import seed_path
from shared.signing import TRUST_FILE, signing_key_path
from tests.support.infra import NatsServer
from tests.support.stack import reset_jetstream

runner = CliRunner()


def env_for(service: str, var: Path, keys: Path, nats_url: str = "nats://127.0.0.1:1",
            **extra: str) -> dict[str, str]:
    p = service.upper() + "_"
    env = {"VAR_DIR": str(var), "NATS_URL": nats_url,
           "AUTH_PUBLIC_KEY_FILE": str(keys / "jwt-ed25519.pub.pem"),
           "KEYRING_FILE": str(keys / "bus-keyring.json"),
           "SIGNING_KEY_FILE": str(signing_key_path(keys, service)),
           "TRUST_LIST_FILE": str(keys / TRUST_FILE),
           "NATS_NKEY_SEED_FILE": str(seed_path(keys, service)), **extra}
    return {p + k: v for k, v in env.items()}


def run(*args: str, env: dict[str, str]) -> Any:
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def test_migrate_reports_what_it_did_and_is_safe_to_repeat(tmp_path: Path,
                                                           keys_dir: Path) -> None:
    env = env_for("intake", tmp_path, keys_dir)
    first = run("migrate", "intake", env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output.split(": ", 1)[1])
    assert report["kernel_from"] is None and report["kernel_to"] == "0003"
    again = json.loads(run("migrate", "intake", env=env).output.split(": ", 1)[1])
    assert again == {"kernel_from": "0003", "kernel_to": "0003", "read_models": "kept"}
    rebuilt = run("rebuild-projections", "intake", env=env)
    assert rebuilt.exit_code == 0 and "rebuilt intake read models from 0 events" in rebuilt.output


def test_check_config_names_the_missing_file(tmp_path: Path, keys_dir: Path) -> None:
    good = run("check-config", "intake", env=env_for("intake", tmp_path, keys_dir))
    assert good.exit_code == 0 and good.output.strip() == "intake: ok", good.output
    missing = tmp_path / "nowhere.pem"
    bad = run("check-config", "intake", env=env_for(
        "intake", tmp_path, keys_dir, AUTH_PUBLIC_KEY_FILE=str(missing)))
    assert bad.exit_code == 1 and f"{missing}: missing" in bad.output
    invalid = run("check-config", "intake", env=env_for(
        "intake", tmp_path, keys_dir, HTTP_PORT="not-a-port"))
    assert invalid.exit_code == 1 and "http_port" in invalid.output
    assert run("check-config", "nosuch", env={}).exit_code != 0


async def test_backlog_of_a_caught_up_service(tmp_path: Path, keys_dir: Path,
                                              nats_server: NatsServer) -> None:
    import asyncio

    await reset_jetstream(nats_server.url)  # no upstream messages left by other tests
    env = env_for("intake", tmp_path, keys_dir, nats_url=nats_server.plain_url)
    out = await asyncio.to_thread(run, "backlog", "intake", env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)["intake"]
    assert report["caught_up"] is True and report["relay"]["unpublished"] == 0
    assert set(report["consumers"]) == {"review"}


def test_verify_chain_of_an_empty_archive_is_ok(tmp_path: Path, keys_dir: Path) -> None:
    out = run("verify-chain", "intake", "review",
              env=env_for("archive", tmp_path, keys_dir,
                          SEAL_KEYS_DIR=str(tmp_path / "seals")))
    assert out.exit_code == 0, out.output
    assert {s: r["ok"] for s, r in json.loads(out.output).items()} == {"intake": True,
                                                                       "review": True}


def test_a_plugged_command_gets_its_arguments(tmp_path: Path) -> None:
    out = run("create-keys", str(tmp_path / "secrets"), "--pg-host", "db", env={})
    assert out.exit_code == 0, out.output
    assert "@db:5432/intake" in (tmp_path / "secrets" / "intake-database-url").read_text()


@pytest.mark.parametrize("command", ["migrate", "backlog", "check-config"])
def test_an_unknown_service_is_refused(command: str) -> None:
    out = runner.invoke(cli, [command, "nosuch"])
    assert out.exit_code == 2 and "unknown service nosuch" in out.output


def test_verify_seal_and_seal_authority_through_lingshui(tmp_path: Path) -> None:
    import base64

    from shared.seals import SealKeys

    seals = tmp_path / "seals"
    made = run("seal-authority", "--dir", str(seals), "provision", "469028100", env={})
    assert made.exit_code == 0 and "made a sm2 key" in made.output, made.output
    document = tmp_path / "统计表.pdf"
    document.write_bytes(b"%PDF-1.4 the table")
    seal = SealKeys(seals, county="469028").seal("469028100", "2026-06", "statistics_pdf",
                                                 document.read_bytes())
    (tmp_path / "t.ses").write_bytes(base64.b64decode(seal.signature))
    assert run("seal-authority", "--dir", str(seals), "export", str(tmp_path / "trust.json"),
               env={}).exit_code == 0
    args = [str(document), str(tmp_path / "t.ses"), "--trust-list", str(tmp_path / "trust.json")]
    ok = run("verify-seal", *args, env={})
    assert ok.exit_code == 0 and "有效" in ok.output, ok.output
    # Revoked (and the list handed out again): the same seal now fails, with the reason.
    assert run("seal-authority", "--dir", str(seals), "revoke", seal.key_id, "--reason",
               "U盾遗失", env={}).exit_code == 0
    run("seal-authority", "--dir", str(seals), "export", str(tmp_path / "trust.json"), env={})
    refused = run("verify-seal", *args, env={})
    assert refused.exit_code == 1 and "revoked" in refused.output, refused.output
