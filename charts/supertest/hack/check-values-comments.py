#!/usr/bin/env python3
"""Check that every key of charts/supertest/values.yaml carries a helm-docs `# --` comment.

helm-docs (hack/gen-readme.sh) turns the comments into README.md's values table, but its own strict mode
(v1.14.2) reports documented keys as undocumented, so the rule is checked here: a `# -- text` line right above a
key documents it, and a documented key whose children carry no comment of their own is documented as a whole.
  python charts/supertest/hack/check-values-comments.py  # exit 1 and list the keys without a comment
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

CHART = Path(__file__).resolve().parents[1]
VALUES = CHART / "values.yaml"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(?:\s.*)?$")


@dataclass(frozen=True)
class Key:
    path: str
    description: str | None
    line: int


def parse_keys(text: str) -> list[Key]:
    """Mapping keys of values.yaml with their `# --` comments; keys inside list items belong to their list."""
    keys: list[Key] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    list_indent: int | None = None  # inside a list item: keys there are part of a value
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped.lstrip("#").strip())  # continuation lines of a description
            continue
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip(" "))
        if list_indent is not None and indent > list_indent:
            continue
        list_indent = None
        if stripped.startswith("- "):
            list_indent = indent
            comment = []
            continue
        match = KEY_LINE.match(line)
        if match is None:
            comment = []
            continue
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, match["key"])]
        keys.append(Key(".".join(k for _, k in stack), " ".join(comment) if comment else None, number))
        comment = []
    return keys


def undocumented(keys: list[Key]) -> list[str]:
    """Keys without a comment that are not part of a documented value (a documented key without documented children)."""
    documented = {k.path for k in keys if k.description}
    leaves = {p for p in documented if not any(q.startswith(p + ".") for q in documented)}
    return [k.path for k in keys if not k.description and not any(k.path.startswith(leaf + ".") for leaf in leaves)]


def main() -> int:
    missing = undocumented(parse_keys(VALUES.read_text()))
    if missing:
        print(f"values.yaml keys without a `# --` comment: {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
