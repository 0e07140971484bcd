"""Schemathesis against the API's own OpenAPI spec: a fixed seed, at least 1,000 generated requests, no 5xx.

The API runs in Kubernetes mode, as deployed: real Postgres, a real kube-apiserver with our CRDs and the API's RBAC
(no operator, so accepted runs stay Queued and the queue fills to its 429s). Requests are valid ones and
schema-violating ones (positive and negative generation). Shrinking is off so one run collects every 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import hypothesis
import pytest
import requests
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode
from supertest_api.app import create_app
from supertest_api.kubernetes.launcher import KubernetesLauncher

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.migrate import upgrade
from supertest.settings import ApiSettings
from tests.integration.k8s.test_api_testjobs import apply_api_rbac
from tests.k8s.controlplane import ControlPlane
from tests.support.api_thread import serving

SEED = 13_013
MIN_CASES = 1_000
# Live streams never end on their own; everything else is fuzzed.
SKIPPED_PATHS = ("/api/test-status/sse/", "/api/job-status/sse/")


@dataclass
class Served:
    url: str
    auth: dict[str, str]


@dataclass
class Tally:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)


@pytest.fixture
def served(control_plane: ControlPlane, k8s_namespace: str, fresh_postgres_db: Callable[[], str]) -> Iterator[Served]:
    control_plane.install_crds()
    apply_api_rbac(control_plane, k8s_namespace)
    kubeconfig = control_plane.serviceaccount_kubeconfig(k8s_namespace, "supertest-api")
    database_url = fresh_postgres_db()
    upgrade(database_url)
    settings = ApiSettings(
        RUN_BACKEND="kubernetes",
        DATABASE_URL=database_url,
        REDIS_URL=None,
        S3_ENDPOINT=None,
        SESSION_SECRET="fuzz-session-secret-0123456789abcdef",
        SUPERTEST_NAMESPACE=k8s_namespace,
        SUPERTEST_HOME=str(control_plane.work_dir / f"api-{k8s_namespace}"),
        QUEUED_CAPACITY=20,
        SECRETS_KEY=Fernet.generate_key().decode(),  # notification channels and secret variables store secrets
    )
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        _, key = apikeys.create_key(session, "fuzz")
    bus = MemoryEventBus()
    launcher = KubernetesLauncher(settings, make_session_factory(engine), bus, kubeconfig=str(kubeconfig))
    try:
        with serving(create_app(settings, launcher, bus=bus)) as url:
            yield Served(url, {"Authorization": f"Bearer {key}"})
    finally:
        engine.dispose()


def _fuzz_operation(
    served: Served,
    case_strategy: hypothesis.strategies.SearchStrategy[Case],
    examples: int,
    tally: Tally,
    http: requests.Session,
) -> None:
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case_strategy)
    def one(case: Case) -> None:
        response = case.call(base_url=served.url, session=http, headers=served.auth, timeout=30)
        tally.cases += 1
        if response.status_code >= 500:
            tally.server_errors.append(
                f"{response.status_code} {case.method} {case.formatted_path} query={case.query!r} "
                f"body={case.body!r:.300}: {response.text[:300]}"
            )

    one()


def test_fuzzing_finds_no_server_error(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
    operations = [
        result.ok() for result in schema.get_all_operations() if not result.ok().path.startswith(SKIPPED_PATHS)
    ]
    per_operation = max(25, -(-(MIN_CASES * 3 // 2) // len(operations)))
    tally = Tally()
    with requests.Session() as http:
        for operation in operations:
            strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)
            _fuzz_operation(served, strategy, per_operation, tally, http)
    with capsys.disabled():  # the count is part of the suite's output, passing or not
        print(
            f"\nschemathesis: {tally.cases} cases over {len(operations)} operations (seed {SEED}), "
            f"{len(tally.server_errors)} server errors"
        )
    assert tally.cases >= MIN_CASES
    assert tally.server_errors == [], "\n".join(tally.server_errors[:40])
