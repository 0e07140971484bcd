"""Where the pinned Playwright lives; the same computation as scripts/setup-playwright.sh."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

# In the repository (and an image that copies runner-image/ whole) the lockfile sits beside the package.
LOCKFILE = Path(__file__).resolve().parent.parent / "package-lock.json"
SETUP_HINT = (
    "run scripts/setup-playwright.sh and export the SUPERTEST_PLAYWRIGHT_DIR and PLAYWRIGHT_BROWSERS_PATH it prints"
)


def cache_root(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("SUPERTEST_CACHE")
    if explicit:
        return Path(explicit)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".cache" / "supertest"


def lock_hash(lockfile: Path = LOCKFILE) -> str:
    return hashlib.sha256(lockfile.read_bytes()).hexdigest()[:16]


def default_playwright_dir(env: Mapping[str, str] = os.environ, lockfile: Path = LOCKFILE) -> Path | None:
    """None when the lockfile is not shipped with the package (then SUPERTEST_PLAYWRIGHT_DIR must be set)."""
    if not lockfile.is_file():
        return None
    return cache_root(env) / "playwright" / lock_hash(lockfile)


def default_browsers_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if explicit:
        return Path(explicit)
    return cache_root(env) / "ms-playwright"


def playwright_cli(playwright_dir: Path) -> Path:
    return playwright_dir / "node_modules" / "@playwright" / "test" / "cli.js"


def browsers_json(playwright_dir: Path) -> Path:
    return playwright_dir / "node_modules" / "playwright-core" / "browsers.json"


def ffmpeg_path(browsers_path: Path, revision: str) -> Path:
    return browsers_path / f"ffmpeg-{revision}" / "ffmpeg-linux"
