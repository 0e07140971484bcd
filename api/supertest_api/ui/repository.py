"""Where the page's files come from: package data next to this module (no CDN, works offline)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

STATIC_DIR = Path(str(files("supertest_api.ui") / "static"))


def read_template(name: str = "index.html") -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")
