"""Checks before Playwright starts, each failing with what to do about it rather than a stack trace."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from supertest.settings import RunnerSettings
from supertest_runner import browsers, paths


class PreflightError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Toolchain:
    node: str
    playwright_dir: Path
    browsers_path: Path

    @property
    def cli(self) -> Path:
        return paths.playwright_cli(self.playwright_dir)


def check_browsers(settings: RunnerSettings) -> None:
    wanted = browsers.parse_browsers(settings.browsers) or ["chromium"]
    refused = browsers.unsupported(wanted)
    if refused:
        raise PreflightError(f"browser {', '.join(refused)} requested, but only Chromium is available")


def check_chromium(chromium: Path) -> None:
    if not chromium.is_file() or not os.access(chromium, os.X_OK):
        raise PreflightError(
            f"Chromium not found at {chromium}: install Debian's chromium (apt-get install -y chromium) "
            "or set CHROMIUM_PATH to its executable"
        )


def find_toolchain(settings: RunnerSettings, env: Mapping[str, str] = os.environ) -> Toolchain:
    node = shutil.which("node", path=env.get("PATH"))
    if node is None:
        raise PreflightError("node is not on PATH: install Node.js 20+ (apt-get install -y nodejs npm)")
    playwright_dir = settings.playwright_dir or paths.default_playwright_dir(env)
    if playwright_dir is None:
        raise PreflightError(f"SUPERTEST_PLAYWRIGHT_DIR is not set: {paths.SETUP_HINT}")
    if not paths.playwright_cli(playwright_dir).is_file():
        raise PreflightError(f"Playwright Test is not installed in {playwright_dir}/node_modules: {paths.SETUP_HINT}")
    return Toolchain(node=node, playwright_dir=playwright_dir, browsers_path=paths.default_browsers_path(env))


def check_video(settings: RunnerSettings, toolchain: Toolchain) -> None:
    """Video needs ffmpeg where Playwright looks for its own build; without it every test would fail."""
    if settings.video == "off":
        return
    try:
        listed = json.loads(paths.browsers_json(toolchain.playwright_dir).read_text(encoding="utf-8"))["browsers"]
        revision = next(str(b["revision"]) for b in listed if b.get("name") == "ffmpeg")
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise PreflightError(f"cannot read ffmpeg's revision from playwright-core's browsers.json: {exc!r}") from exc
    ffmpeg = paths.ffmpeg_path(toolchain.browsers_path, revision)
    if not ffmpeg.exists():
        raise PreflightError(f"video recording needs ffmpeg at {ffmpeg}: {paths.SETUP_HINT} (or set PW_VIDEO=off)")


def preflight(settings: RunnerSettings, env: Mapping[str, str] = os.environ) -> Toolchain:
    check_browsers(settings)
    check_chromium(settings.chromium_path)
    toolchain = find_toolchain(settings, env)
    check_video(settings, toolchain)
    return toolchain
