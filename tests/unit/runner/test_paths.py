import hashlib
from pathlib import Path

from supertest_runner import paths


def test_cache_paths_follow_supertest_cache(tmp_path: Path) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text("{}")
    env = {"SUPERTEST_CACHE": str(tmp_path / "cache"), "HOME": "/nowhere"}
    expected_hash = hashlib.sha256(b"{}").hexdigest()[:16]
    assert paths.default_playwright_dir(env, lock) == tmp_path / "cache" / "playwright" / expected_hash
    assert paths.default_browsers_path(env) == tmp_path / "cache" / "ms-playwright"


def test_defaults_under_home_and_explicit_browsers_path() -> None:
    env = {"HOME": "/home/u", "PLAYWRIGHT_BROWSERS_PATH": "/pw"}
    assert paths.cache_root(env) == Path("/home/u/.cache/supertest")
    assert paths.default_browsers_path(env) == Path("/pw")


def test_no_lockfile_means_no_default(tmp_path: Path) -> None:
    assert paths.default_playwright_dir({}, tmp_path / "absent.json") is None


def test_shipped_lockfile_pins_playwright_exactly() -> None:
    text = paths.LOCKFILE.read_text()
    assert '"node_modules/@playwright/test": {\n      "version": "1.64.1"' in text
