"""The admission webhook's HTTPS server: its certificates (mounted, e.g. by cert-manager, or made here) and the
kopf.WebhookServer that serves the handlers of `handlers/webhook.py` and `handlers/testjob_webhook.py`."""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from supertest_operator.settings import OperatorSettings


@dataclass(frozen=True, slots=True)
class WebhookCerts:
    cafile: Path
    certfile: Path
    pkeyfile: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    fmt = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def generate_certs(directory: Path, hosts: Iterable[str], days: int = 365) -> WebhookCerts:
    """A throwaway CA and a serving certificate for `hosts` (DNS names or IPs), written as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)  # tolerate small clock skew with the apiserver
    ca_key, key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "supertest-operator-webhook-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    host_list = list(hosts)
    leaf = (
        x509.CertificateBuilder()
        # A fixed subject: X.509 caps a CN at 64 characters, which `<release>-supertest-operator.<ns>.svc` can
        # exceed; clients (the apiserver included) check the SAN, which carries every host.
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "supertest-operator-webhook")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(host_list), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certs = WebhookCerts(directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    certs.cafile.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.certfile.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    certs.pkeyfile.write_bytes(_pem_key(key))
    certs.pkeyfile.chmod(0o600)
    return certs


def load_or_generate(cert_dir: Path, hosts: Iterable[str]) -> WebhookCerts:
    """Mounted certificates (ca.crt, tls.crt, tls.key, e.g. from cert-manager) win; else a fresh pair."""
    existing = WebhookCerts(cert_dir / "ca.crt", cert_dir / "tls.crt", cert_dir / "tls.key")
    if all(p.is_file() for p in (existing.cafile, existing.certfile, existing.pkeyfile)):
        return existing
    return generate_certs(cert_dir, hosts)


class ServiceWebhookServer(kopf.WebhookServer):
    """kopf's server, announced to the apiserver as a Service reference instead of a URL.

    kopf always writes `clientConfig.url`, which the apiserver resolves with its own (host) DNS, where cluster
    Service names do not exist; a `clientConfig.service` is resolved by the apiserver to the Service's address, as
    every in-cluster webhook is. kopf appends each handler's id to `service.path` as it does to the URL.
    """

    def __init__(self, *, service: str, namespace: str, service_port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service, self.namespace, self.service_port = service, namespace, service_port

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        async for config in super().__call__(fn):
            yield service_client_config(config, self.service, self.namespace, self.service_port)


def service_client_config(config: Mapping[str, Any], service: str, namespace: str, port: int) -> dict[str, Any]:
    """The clientConfig for `service` (pure): the same CA bundle, the URL's path, no URL."""
    service_ref: dict[str, Any] = {"namespace": namespace, "name": service, "port": port}
    # kopf then appends "/<handler id>" to the path, so an empty path must stay absent, not become "/".
    path = urllib.parse.urlsplit(str(config.get("url") or "")).path.rstrip("/")
    if path:
        service_ref["path"] = path
    out: dict[str, Any] = {"service": service_ref}
    if config.get("caBundle"):
        out["caBundle"] = config["caBundle"]
    return out


def webhook_server(s: OperatorSettings, cert_dir: Path) -> kopf.WebhookServer:
    certs = load_or_generate(cert_dir, [s.webhook_host, "localhost", "127.0.0.1"])
    common: dict[str, Any] = {
        "addr": s.webhook_listen,
        "port": s.webhook_port,
        "host": s.webhook_host,
        "certfile": str(certs.certfile),
        "pkeyfile": str(certs.pkeyfile),
        "cafile": str(certs.cafile),
    }
    if s.webhook_service and s.webhook_service_namespace:
        return ServiceWebhookServer(
            service=s.webhook_service, namespace=s.webhook_service_namespace, service_port=s.webhook_port, **common
        )
    return kopf.WebhookServer(**common)
