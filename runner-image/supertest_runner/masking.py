"""Secret masking: the exact values of the secret variables a run was given never leave the runner.

The runner learns which variables are secrets from SUPERTEST_MASK_NAMES (names only; the values are in its own
environment, where the script reads them). Every line it relays, every status message, the failed-test errors,
logs.txt and results.json go through `Masker.mask`. What it cannot see it cannot mask: the HTML report's
embedded data, traces, screenshots and videos (the README says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "***"
# Shorter values would mask ordinary words and digits everywhere; such secrets are refused at creation.
MIN_MASKED_LENGTH = 4


class Masker:
    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            if len(value) < MIN_MASKED_LENGTH:
                continue
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string (quotes, backslashes, \n)
            forms.update(line for line in value.splitlines() if len(line) >= MIN_MASKED_LENGTH)
        # Longest first, so a secret containing another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Masker:
        names = [n.strip() for n in env.get("SUPERTEST_MASK_NAMES", "").split(",") if n.strip()]
        return cls(env[n] for n in names if env.get(n))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def mask(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def mask_file(self, path: Path) -> None:
        if not self or not path.is_file():
            return
        raw = path.read_text(encoding="utf-8", errors="replace")
        masked = self.mask(raw)
        if masked != raw:
            path.write_text(masked, encoding="utf-8")
