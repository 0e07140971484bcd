from __future__ import annotations

import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from cryptography import x509
from kopf._core.engines.admission import _inject_handler_id
from supertest_operator.context import OperatorContext
from supertest_operator.handlers.webhook import validate_queue
from supertest_operator.webhook_server import generate_certs, service_client_config

from supertest.admission import QueueFull


def test_generated_certificate_is_signed_by_its_ca_and_covers_the_hosts(tmp_path: Path) -> None:
    certs = generate_certs(tmp_path, ["supertest-operator.supertest.svc", "127.0.0.1"])
    leaf = x509.load_pem_x509_certificate(certs.certfile.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "supertest-operator.supertest.svc" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # The server context loads the pair, and a client trusting only the CA accepts the chain.
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs.certfile, certs.pkeyfile)
    client = ssl.create_default_context(cafile=str(certs.cafile))
    assert client.cert_store_stats()["x509_ca"] == 1
    assert oct(certs.pkeyfile.stat().st_mode & 0o777) == "0o600"


def test_a_service_name_longer_than_a_common_name_allows_still_gets_a_certificate(tmp_path: Path) -> None:
    # `<release>-supertest-operator.<namespace>.svc` easily passes X.509's 64-character CN limit (found by the chart
    # install on the real node); the name must still be served, through the SAN.
    host = "st97f6ca-supertest-operator.test-helm-install-on-the-real-node-6487e8.svc"
    assert len(host) > 64
    certs = generate_certs(tmp_path, [host])
    leaf = x509.load_pem_x509_certificate(certs.certfile.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [host]


def test_webhook_announced_as_a_service_reference_keeps_the_path_and_ca() -> None:
    # kopf's URL form; the apiserver gets a Service reference instead (its host DNS cannot resolve *.svc names).
    url_form = {"url": "https://op.ns.svc:9443", "caBundle": "Q0E="}
    announced = service_client_config(url_form, "op", "ns", 9443)
    assert announced == {"service": {"namespace": "ns", "name": "op", "port": 9443}, "caBundle": "Q0E="}
    # kopf appends each handler's id to the path: one slash, as with the URL form.
    assert _inject_handler_id(announced, "testjob-schedule")["service"]["path"] == "/testjob-schedule"  # type: ignore
    with_path = service_client_config({"url": "https://op.ns.svc:9443/hooks/"}, "op", "ns", 9443)
    assert _inject_handler_id(with_path, "x")["service"]["path"] == "/hooks/x"  # type: ignore


def _ctx(capacity: int) -> Any:
    import asyncio

    return SimpleNamespace(
        settings=SimpleNamespace(queued_capacity=capacity), webhook_lock=asyncio.Lock(), webhook_pending={}
    )


def _body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}}


async def test_denies_at_capacity_with_the_queue_full_text() -> None:
    ctx: OperatorContext = _ctx(2)
    waiting = {("ns", "a")}
    await validate_queue(ctx, "testruns", _body("b"), "CREATE", False, waiting)
    with pytest.raises(kopf.AdmissionError) as denied:
        await validate_queue(ctx, "testruns", _body("c"), "CREATE", False, waiting)
    assert str(denied.value) == str(QueueFull(2, 2))
    assert denied.value.code == 429
    # Once the index shows b, it is counted once, not twice.
    await validate_queue(ctx, "testruns", _body("d"), "UPDATE", False, {("ns", "a"), ("ns", "b")})
    with pytest.raises(kopf.AdmissionError):
        await validate_queue(ctx, "testruns", _body("e"), "CREATE", False, {("ns", "a"), ("ns", "b")})
    assert ctx.webhook_pending == {}


async def test_dry_runs_do_not_take_a_place() -> None:
    ctx: OperatorContext = _ctx(1)
    await validate_queue(ctx, "testruns", _body("a"), "CREATE", True, set())
    await validate_queue(ctx, "testruns", _body("b"), "CREATE", False, set())
