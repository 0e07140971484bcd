"""Reading a kubeconfig's current context: the kube client and the operator's kopf login share this one reading."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from supertest.kube.client import KubeConfigError, kubeconfig_credentials


def write(path: Path, users: list[dict[str, object]], current: str | None = None) -> Path:
    config: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority": "ca.crt"}}],
        "users": users,
        "contexts": [{"name": u["name"], "context": {"cluster": "c", "user": u["name"]}} for u in users],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def test_without_current_context_the_first_context_is_used_and_paths_resolve_next_to_the_file(tmp_path: Path) -> None:
    users = [
        {"name": "admin", "user": {"client-certificate": "admin.crt", "client-key": "/abs/admin.key"}},
        {"name": "other", "user": {"token": "t"}},
    ]
    creds = kubeconfig_credentials(str(write(tmp_path / "kubeconfig", users)))
    assert creds.server == "https://127.0.0.1:6443"
    assert creds.ca_file == str(tmp_path / "ca.crt")
    assert (creds.cert_file, creds.key_file) == (str(tmp_path / "admin.crt"), "/abs/admin.key")
    assert creds.token is None and not creds.plugin


def test_current_context_token_inline_data_and_plugins(tmp_path: Path) -> None:
    data = base64.b64encode(b"PEM").decode()
    users = [
        {"name": "a", "user": {"token": "nope"}},
        {"name": "b", "user": {"token": "secret", "client-key-data": data}},
        {"name": "p", "user": {"exec": {"command": "gke-gcloud-auth-plugin"}}},
    ]
    creds = kubeconfig_credentials(str(write(tmp_path / "k", users, current="b")))
    assert creds.token == "secret"
    assert creds.key_file is not None and Path(creds.key_file).read_bytes() == b"PEM"
    assert kubeconfig_credentials(str(write(tmp_path / "k2", users, current="p"))).plugin


def test_unreadable_or_serverless_kubeconfigs_say_so(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="no readable kubeconfig"):
        kubeconfig_credentials(str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("contexts: []\n")
    with pytest.raises(KubeConfigError, match="no cluster with a server"):
        kubeconfig_credentials(str(tmp_path / "empty"))
