import os
from pathlib import Path

import pytest
from supertest_runner.workspace import WorkspaceError, link_node_modules, list_scripts, materialise, plan, spec_target


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("login.ts", "tests/login.spec.ts"),
        ("login.spec.ts", "tests/login.spec.ts"),
        ("01-name.spec.ts", "tests/01-name.spec.ts"),
        ("a.b.js", "tests/a.b.spec.js"),
        ("esm.mjs", "tests/esm.spec.mjs"),
    ],
)
def test_spec_target(name: str, target: str) -> None:
    assert spec_target(name) == target


@pytest.mark.parametrize(
    "name",
    ["../x.ts", "/etc/x.js", "a/b.ts", "a\\b.ts", ".hidden.ts", "..", "x..ts", "x.py", "x", "x.ts\x00", ".spec.ts", ""],
)
def test_refuses_unsafe_or_unsupported_names(name: str) -> None:
    with pytest.raises(WorkspaceError):
        spec_target(name)


def test_plan_keeps_job_order_and_refuses_duplicates() -> None:
    assert [s.target for s in plan(["02-b.spec.ts", "01-a.ts", "10-c.js"])] == [
        "tests/01-a.spec.ts",
        "tests/02-b.spec.ts",
        "tests/10-c.spec.js",
    ]
    with pytest.raises(WorkspaceError, match="both become"):
        plan(["a.ts", "a.spec.ts"])


def _configmap_like(root: Path, files: dict[str, str]) -> Path:
    """Kubernetes' atomic-writer layout: key -> ..data/key, ..data -> ..<timestamp>/."""
    scripts = root / "scripts"
    stamp = scripts / "..2026_11_28_00_00_00.000"
    stamp.mkdir(parents=True)
    for name, text in files.items():
        (stamp / name).write_text(text)
    (scripts / "..data").symlink_to(stamp.name)
    for name in files:
        (scripts / name).symlink_to(f"..data/{name}")
    return scripts


def test_materialise_a_configmap_mount(tmp_path: Path) -> None:
    scripts = _configmap_like(tmp_path, {"01-a.spec.ts": "// a", "02-b.js": "// b", "notes.txt": "x"})
    work = tmp_path / "work"
    specs = materialise(scripts, work, max_bytes=1024)
    assert [s.target for s in specs] == ["tests/01-a.spec.ts", "tests/02-b.spec.js"]
    assert (work / "tests/01-a.spec.ts").read_text() == "// a"
    assert (work / "tests/02-b.spec.js").read_text() == "// b"
    assert not (work / "tests/notes.txt").exists()
    assert list_scripts(scripts)[1] == ["notes.txt"]


def test_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (tmp_path / "secret.ts").write_text("x")
    (scripts / "evil.ts").symlink_to(tmp_path / "secret.ts")
    with pytest.raises(WorkspaceError, match="outside"):
        materialise(scripts, tmp_path / "work", max_bytes=1024)


def test_refuses_oversized_and_empty_folders(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    with pytest.raises(WorkspaceError, match="no test scripts"):
        materialise(scripts, tmp_path / "work", max_bytes=1024)
    (scripts / "big.ts").write_text("x" * 2048)
    with pytest.raises(WorkspaceError, match="limit"):
        materialise(scripts, tmp_path / "work", max_bytes=1024)
    with pytest.raises(WorkspaceError, match="does not exist"):
        materialise(tmp_path / "absent", tmp_path / "work", max_bytes=1024)


def test_link_node_modules_replaces_an_old_link(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    link_node_modules(work, tmp_path / "old")
    link_node_modules(work, tmp_path / "pw")
    assert os.readlink(work / "node_modules") == str(tmp_path / "pw" / "node_modules")
