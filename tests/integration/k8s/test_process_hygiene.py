"""A killed test session must not leave processes or ports behind, nor break the next session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.k8s import procs
from tests.k8s.controlplane import ControlPlane, port_is_bound
from tests.k8s.wait import wait_for

REPO = Path(__file__).resolve().parents[3]


def test_reaper_kills_children_of_dead_sessions_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERTEST_CACHE", str(tmp_path))
    orphan = subprocess.Popen(["sleep", "600"], start_new_session=True)
    bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        run_dir = tmp_path / "k8s" / "run"
        run_dir.mkdir(parents=True)
        children = [
            {
                "pid": orphan.pid,
                "start_time": procs.proc_start_time(orphan.pid),
                "exe": "",
                "label": "orphan",
            },
            # Same pid but another start time: the pid was reused by an unrelated process, leave it alone.
            {"pid": bystander.pid, "start_time": 1, "exe": "", "label": "reused pid"},
        ]
        pidfile = run_dir / f"session-{dead_owner.pid}.json"
        scratch = tmp_path / "supertest-k8s-dead"
        scratch.mkdir()
        keep = tmp_path / "not-ours"
        keep.mkdir()
        pidfile.write_text(
            json.dumps(
                {
                    "owner_pid": dead_owner.pid,
                    "owner_start_time": 1,
                    "children": children,
                    "dirs": [str(scratch), str(keep)],
                }
            )
        )
        alive_owner = run_dir / "session-live.json"
        alive_owner.write_text(
            json.dumps(
                {
                    "owner_pid": os.getpid(),
                    "owner_start_time": procs.proc_start_time(os.getpid()),
                    "children": [
                        {
                            "pid": bystander.pid,
                            "start_time": procs.proc_start_time(bystander.pid),
                            "exe": "",
                            "label": "live session's child",
                        }
                    ],
                }
            )
        )

        assert procs.reap_stale_sessions() == [f"orphan (pid {orphan.pid})"]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None
        assert not pidfile.exists()
        assert alive_owner.exists()
        assert not scratch.exists()
        assert keep.exists()  # only supertest-* scratch dirs are ever deleted
    finally:
        for proc in (orphan, bystander):
            proc.kill()
            proc.wait()


def test_sigkilled_owner_leaves_no_processes_or_ports(control_plane: ControlPlane, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from tests.k8s.controlplane import ControlPlane
        cp = ControlPlane.start(bin_dir=Path({str(control_plane.bin_dir)!r}))
        facts = {{"pids": cp.pids(), "ports": list(cp.ports.values()), "dir": str(cp.work_dir)}}
        print(json.dumps(facts), flush=True)
        sys.stdin.read()
    """)
    env = {**os.environ, "SUPERTEST_CACHE": str(tmp_path)}
    owner = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        assert all(procs.is_running(pid) for pid in started["pids"])
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()

    # PR_SET_PDEATHSIG takes the children down with their owner; the ports are released with them.
    wait_for(
        lambda: not any(procs.group_members(pid) for pid in started["pids"]),
        timeout=15,
        message=f"control-plane processes {started['pids']} gone",
    )
    wait_for(
        lambda: not any(port_is_bound(port) for port in started["ports"]),
        timeout=15,
        message=f"ports {started['ports']} released",
    )
    # The dead session's pidfile is cleaned up by the next session's start (nothing left to kill).
    pidfiles = list((tmp_path / "k8s" / "run").glob("session-*.json"))
    assert len(pidfiles) == 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUPERTEST_CACHE", str(tmp_path))
        assert procs.reap_stale_sessions() == []
    assert not pidfiles[0].exists()
    assert not Path(started["dir"]).exists(), "the dead session's scratch dir is deleted"
