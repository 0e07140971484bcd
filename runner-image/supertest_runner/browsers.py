"""Only Chromium exists here (Playwright's Firefox and WebKit are patched builds): refuse the others clearly."""

from __future__ import annotations

import re

SUPPORTED = frozenset({"chromium"})

# A script's `test.use({ browserName: 'firefox' })` launches Chromium's binary with Firefox's protocol flags;
# the launch fails, and this is what that looks like in the test's error.
_LAUNCH_ERROR = re.compile(r"browserType\.(?:launch|connect)[\s\S]*?(firefox|juggler|webkit)", re.IGNORECASE)


def parse_browsers(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def unsupported(browsers: list[str]) -> list[str]:
    """Browsers asked for by the run spec that cannot run here."""
    return [b for b in browsers if b not in SUPPORTED]


def requested_in_error(message: str) -> str | None:
    """The non-Chromium browser a failed launch was for, if that is what the error shows."""
    match = _LAUNCH_ERROR.search(message)
    if not match:
        return None
    found = match.group(1).lower()
    return "firefox" if found == "juggler" else found
