"""Where the web UI's files come from: the Vite build of `ui/`, never a CDN.

The build lives outside the work tree (scripts/build-ui.sh caches it by a hash of the sources and links it
here as `dist/`); `SUPERTEST_UI_DIR` points elsewhere, e.g. at a folder baked into the image. When neither
holds an index.html, `STATIC_DIR` falls back to the packaged `static/` folder, whose only page explains how
to build the UI, so the API still starts (and answers) without Node installed.
"""

from __future__ import annotations

import os
import tempfile
from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(str(files("supertest_api.ui")))
FALLBACK_DIR = PACKAGE_DIR / "static"
UI_DIR_ENV = "SUPERTEST_UI_DIR"


def build_dir() -> Path:
    # Read from the environment directly: this picks a folder of files at import time, before any settings
    # object exists (app.py mounts STATIC_DIR while building the app).
    override = os.environ.get(UI_DIR_ENV)
    return Path(override) if override else PACKAGE_DIR / "dist"


def is_built(directory: Path) -> bool:
    return (directory / "index.html").is_file()


def static_dir() -> Path:
    directory = build_dir()
    if is_built(directory):
        return directory
    if FALLBACK_DIR.is_dir():
        return FALLBACK_DIR
    # An install that dropped static/ (package data): an empty folder keeps the /ui/static mount valid.
    return Path(tempfile.mkdtemp(prefix="supertest-ui-"))


# Mounted at /ui/static by app.py; the Vite build uses that as its base URL.
STATIC_DIR = static_dir()


def read_index() -> str | None:
    path = build_dir() / "index.html"
    return path.read_text(encoding="utf-8") if path.is_file() else None


NOT_BUILT_TEXT = "<!doctype html><title>Supertest</title><h1>The web UI is not built</h1><p>Run scripts/build-ui.sh</p>"


def read_not_built_page() -> str:
    page = FALLBACK_DIR / "not-built.html"
    return page.read_text(encoding="utf-8") if page.is_file() else NOT_BUILT_TEXT
