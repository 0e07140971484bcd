"""Turn the scripts folder (a ConfigMap mount or a local folder) into tests/<stem>.spec.<ext> in the work dir."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from supertest_runner.config import TESTS_DIR

SCRIPT_EXTENSIONS = ("js", "mjs", "ts")
# ConfigMap keys are [-._a-zA-Z0-9]+; requiring a leading alphanumeric also refuses ".", ".." and hidden files.
_NAME = re.compile(r"^[A-Za-z0-9][-._A-Za-z0-9]*$")
_PATTERNS = ", ".join(f"*.{ext}" for ext in SCRIPT_EXTENSIONS)


class WorkspaceError(ValueError):
    """The scripts cannot become a Playwright test folder; the run is an Error."""


@dataclass(frozen=True, slots=True)
class SpecFile:
    source: str  # the name in the scripts folder
    target: str  # relative to the work dir, e.g. tests/01-login.spec.ts


def spec_target(name: str) -> str:
    """`login.ts` and `login.spec.ts` both become `tests/login.spec.ts`; anything path-like is refused."""
    if not _NAME.match(name) or ".." in name:
        raise WorkspaceError(f"refusing script name {name!r}: use letters, digits, '-', '_' and '.' only")
    stem, dot, ext = name.rpartition(".")
    if not dot or ext not in SCRIPT_EXTENSIONS:
        raise WorkspaceError(f"unsupported script {name!r}: expected one of {_PATTERNS}")
    stem = stem.removesuffix(".spec")
    if not stem:
        raise WorkspaceError(f"refusing script name {name!r}: empty name")
    return f"{TESTS_DIR}/{stem}.spec.{ext}"


def plan(names: list[str]) -> list[SpecFile]:
    """Sorted by name, so a job's 01-, 02- prefixes keep their order; two names for one target are refused."""
    specs: list[SpecFile] = []
    seen: dict[str, str] = {}
    for name in sorted(names):
        target = spec_target(name)
        if target in seen:
            raise WorkspaceError(f"scripts {seen[target]!r} and {name!r} both become {target}")
        seen[target] = name
        specs.append(SpecFile(source=name, target=target))
    return specs


def list_scripts(scripts_dir: Path) -> tuple[list[str], list[str]]:
    """(script names, ignored names). Dot entries are skipped: a ConfigMap mount keeps `..data` there."""
    if not scripts_dir.is_dir():
        raise WorkspaceError(f"scripts folder {scripts_dir} does not exist")
    scripts: list[str] = []
    ignored: list[str] = []
    for entry in sorted(os.listdir(scripts_dir)):
        if entry.startswith("."):
            continue
        if not (scripts_dir / entry).is_file():
            ignored.append(entry)
        elif entry.rpartition(".")[2] in SCRIPT_EXTENSIONS:
            scripts.append(entry)
        else:
            ignored.append(entry)
    if not scripts:
        raise WorkspaceError(f"no test scripts ({_PATTERNS}) in {scripts_dir}")
    return scripts, ignored


def materialise(
    scripts_dir: Path, work_dir: Path, max_bytes: int, only: frozenset[str] = frozenset()
) -> list[SpecFile]:
    """Copy each script to its target. Symlinks (a ConfigMap's key -> ..data/key) must stay inside the folder.

    `only` (a shard's files): copy just these; a name the folder lacks is an error, never a silently smaller run.
    """
    names, _ = list_scripts(scripts_dir)
    if only:
        missing = sorted(only - set(names))
        if missing:
            raise WorkspaceError(f"this shard's scripts are not in {scripts_dir}: {', '.join(missing)}")
        names = [n for n in names if n in only]
    specs = plan(names)
    root = scripts_dir.resolve()
    (work_dir / TESTS_DIR).mkdir(parents=True, exist_ok=True)
    for spec in specs:
        source = (scripts_dir / spec.source).resolve()
        if root not in source.parents:
            raise WorkspaceError(f"script {spec.source!r} points outside {scripts_dir}")
        size = source.stat().st_size
        if size > max_bytes:
            raise WorkspaceError(f"script {spec.source!r} is {size} bytes, over the {max_bytes}-byte limit")
        (work_dir / spec.target).write_bytes(source.read_bytes())
    return specs


def link_node_modules(work_dir: Path, playwright_dir: Path) -> None:
    """Scripts import '@playwright/test'; Node finds it through work_dir/node_modules."""
    link = work_dir / "node_modules"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(playwright_dir / "node_modules", target_is_directory=True)
