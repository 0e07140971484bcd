"""Real alert receivers on 127.0.0.1: an HTTP server that records every POST, and an SMTP server (aiosmtpd)
that requires STARTTLS (a certificate from a throwaway CA) and a login before it accepts mail."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.k8s.certs import issue, make_ca
from tests.support.local_server import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Status codes to answer, in order, before answering 200 (to exercise retries).
    fail_with: list[int] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    port = free_port()
    receiver = HttpReceiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                status = receiver.fail_with.pop(0) if receiver.fail_with else 200
                if status == 200:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    host: str
    port: int
    username: str
    password: str
    ca_pem: str
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)


@contextmanager
def smtp_receiver(tmp_path: Any, username: str = "alerts", password: str = "smtp-pass-123") -> Iterator[SmtpReceiver]:
    ca = make_ca("supertest-smtp-test-ca")
    leaf = issue(ca, "127.0.0.1", ip_addresses=("127.0.0.1",), dns_names=("localhost",), server=True)
    cert_path, key_path = leaf.write(tmp_path, "smtp")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path, key_path)
    receiver = SmtpReceiver("127.0.0.1", free_port(), username, password, ca.cert_pem.decode())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with receiver.lock:
                receiver.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        if ok:
            with receiver.lock:
                receiver.logins.append(username)
        return AuthResult(success=ok)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=receiver.port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
