"""Channel kinds and how one alert is delivered: a templated, HMAC-signed webhook, a Slack incoming webhook,
or an email over SMTP (STARTTLS, credentials). Rendering is pure; `deliver` does one attempt."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Literal

import aiohttp

ChannelKind = Literal["webhook", "slack", "email"]
SIGNATURE_HEADER = "X-Supertest-Signature-256"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "supertest-notifier/1"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")

HEADLINES = {
    "failure": "failed",
    "recovery": "recovered",
    "every_run": "finished",
    "timeout_error": "could not complete",
}


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as the sender sees it: its public config and its decrypted secret fields."""

    id: str
    name: str
    kind: ChannelKind
    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


def context(payload: dict[str, Any], public_url: str | None) -> dict[str, Any]:
    """The alert as templates see it: the outbox payload plus the absolute run link (`run.url`)."""
    run = dict(payload.get("run") or {})
    path = str(run.get("path") or "")
    run["url"] = (public_url.rstrip("/") + path) if public_url else path
    return {**payload, "run": run}


def _lookup(ctx: dict[str, Any], dotted: str) -> Any:
    value: Any = ctx
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    return "" if value is None else value


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render(template: Any, ctx: dict[str, Any]) -> Any:
    """Fill `{{path}}` placeholders in a JSON template. A string that is one placeholder takes the value as it is
    (a list stays a list); inside longer strings values are written as text."""
    if isinstance(template, dict):
        return {str(k): render(v, ctx) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, ctx) for v in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return _lookup(ctx, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: _as_text(_lookup(ctx, m.group(1))), template)
    return template


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def subject_of(ctx: dict[str, Any]) -> str:
    what = (ctx.get("job") or {}).get("name") or (ctx.get("run") or {}).get("title") or "run"
    return (
        f"[Supertest] {what} {HEADLINES.get(str(ctx.get('event')), 'finished')} ({(ctx.get('run') or {}).get('phase')})"
    )


def text_of(ctx: dict[str, Any]) -> str:
    run = ctx.get("run") or {}
    lines = [subject_of(ctx).removeprefix("[Supertest] "), f"Run: {run.get('url')} ({run.get('id')})"]
    if ctx.get("job"):
        lines.append(f"Job: {ctx['job'].get('name')} ({ctx['job'].get('id')})")
    if ctx.get("failedTests"):
        lines.append("Failed tests: " + ", ".join(ctx["failedTests"]))
    if ctx.get("firstError"):
        lines.append(f"First error: {ctx['firstError']}")
    if ctx.get("event") == "failure":
        lines.append(f"Consecutive failures: {ctx.get('consecutiveFailures')}")
    return "\n".join(lines)


def slack_body(ctx: dict[str, Any]) -> dict[str, Any]:
    run = ctx.get("run") or {}
    icon = ":white_check_mark:" if ctx.get("event") == "recovery" else ":red_circle:"
    if ctx.get("event") == "every_run" and run.get("phase") == "Passed":
        icon = ":white_check_mark:"
    parts = [f"{icon} *{subject_of(ctx).removeprefix('[Supertest] ')}*", f"Run: <{run.get('url')}|{run.get('id')}>"]
    if ctx.get("failedTests"):
        parts.append("Failed tests: " + ", ".join(f"`{t}`" for t in ctx["failedTests"]))
    if ctx.get("firstError"):
        parts.append(f"First error: `{ctx['firstError']}`")
    text = "\n".join(parts)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def webhook_request(channel: Channel, ctx: dict[str, Any], key: str) -> tuple[str, bytes, dict[str, str]]:
    template = channel.config.get("bodyTemplate")
    body_value = render(template, ctx) if template is not None else ctx
    body = json.dumps(body_value, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {str(k): str(v) for k, v in (channel.config.get("headers") or {}).items()}
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT, IDEMPOTENCY_HEADER: key})
    headers["X-Supertest-Event"] = str(ctx.get("event"))
    secret = channel.secrets.get("hmacSecret")
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return str(channel.config["url"]), body, headers


def email_message(channel: Channel, ctx: dict[str, Any], key: str) -> EmailMessage:
    cfg = channel.config
    msg = EmailMessage()
    msg["Subject"] = subject_of(ctx)
    msg["From"] = cfg["from"]
    msg["To"] = ", ".join(cfg["to"])
    msg["Message-ID"] = make_msgid(idstring=hashlib.sha256(key.encode()).hexdigest()[:24], domain="supertest")
    msg["X-Supertest-Idempotency-Key"] = key
    msg.set_content(text_of(ctx))
    return msg


def _send_email(channel: Channel, msg: EmailMessage, timeout: float) -> None:
    cfg = channel.config
    tls = ssl.create_default_context(cadata=cfg["caPem"]) if cfg.get("caPem") else ssl.create_default_context()
    with smtplib.SMTP(cfg["host"], int(cfg.get("port") or 587), timeout=timeout) as smtp:
        smtp.ehlo()
        if cfg.get("starttls", True):
            smtp.starttls(context=tls)
            smtp.ehlo()
        if cfg.get("username"):
            smtp.login(cfg["username"], channel.secrets.get("password", ""))
        smtp.send_message(msg)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


async def deliver(channel: Channel, ctx: dict[str, Any], key: str, timeout: float) -> Delivery:  # noqa: ASYNC109
    """One attempt; never raises (the outcome is recorded as an attempt either way)."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        if channel.kind == "email":
            await asyncio.to_thread(_send_email, channel, email_message(channel, ctx, key), timeout)
            return Delivery(ok=True, status_code=250, duration_ms=took())
        if channel.kind == "slack":
            url = channel.secrets["webhookUrl"]
            body = json.dumps(slack_body(ctx)).encode()
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, IDEMPOTENCY_HEADER: key}
        else:
            url, body, headers = webhook_request(channel, ctx, key)
        # aiohttp, not httpx: the operator (which sends the alerts) has it loaded for the Kubernetes API already, and
        # httpx was 2.5 MiB of its memory for this one call.
        limit = aiohttp.ClientTimeout(total=timeout)
        async with (
            aiohttp.ClientSession(timeout=limit, trust_env=False) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            status = response.status
            ok = 200 <= status < 300
            error = None if ok else f"HTTP {status}: {(await response.read()).decode(errors='replace')[:200]}"
        return Delivery(ok=ok, status_code=status, error=error, duration_ms=took())
    except smtplib.SMTPResponseException as exc:
        return Delivery(ok=False, status_code=exc.smtp_code, error=_short(exc), duration_ms=took())
    except Exception as exc:
        return Delivery(ok=False, error=_short(exc), duration_ms=took())
