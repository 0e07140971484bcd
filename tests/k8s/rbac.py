"""deploy/rbac/ made per test namespace, so parallel tests on one control plane each get their own copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RBAC_DIR = Path(__file__).resolve().parents[2] / "deploy" / "rbac"
# The operator's default WEBHOOK_CONFIG_NAME, which deploy/rbac names in resourceNames.
WEBHOOK_CONFIG_NAME = "supertest.dev"


def webhook_config_name(namespace: str) -> str:
    """The WEBHOOK_CONFIG_NAME an operator of this test namespace uses (tests/e2e/operator_proc.py)."""
    return f"{namespace}.{WEBHOOK_CONFIG_NAME}"


def deploy_rbac_docs(file: str, namespace: str) -> list[dict[str, Any]]:
    """deploy/rbac/`file` in `namespace`: cluster-scoped objects and the webhook configuration renamed for it."""
    docs = [d for d in yaml.safe_load_all((RBAC_DIR / file).read_text()) if d]
    for doc in docs:
        meta = doc["metadata"]
        if "namespace" in meta:
            meta["namespace"] = namespace
        else:  # cluster-scoped: unique per test namespace
            meta["name"] = f"{meta['name']}-{namespace}"
            for rule in doc.get("rules", []):
                if rule.get("resourceNames") == [WEBHOOK_CONFIG_NAME]:
                    rule["resourceNames"] = [webhook_config_name(namespace)]
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{namespace}"
    return docs
