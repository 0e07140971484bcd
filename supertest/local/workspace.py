"""Where local mode keeps each run's scripts and working files."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from supertest.launch import ScriptSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(name: str, fallback: str = "test") -> str:
    cleaned = _UNSAFE.sub("-", name).strip("-.")[:60]
    return cleaned or fallback


def write_scripts(scripts_dir: Path, scripts: Sequence[ScriptSpec]) -> list[Path]:
    """One file per script; an index prefix keeps a job's order in the combined report."""
    if scripts_dir.exists():
        shutil.rmtree(scripts_dir)
    scripts_dir.mkdir(parents=True)
    paths = []
    for index, spec in enumerate(scripts, start=1):
        ext = "ts" if spec.language == "typescript" else "js"
        path = scripts_dir / f"{index:02d}-{slug(spec.name)}.spec.{ext}"
        path.write_text(spec.script, encoding="utf-8")
        paths.append(path)
    return paths
