"""Pure pieces of alerting: the streak rule, one alert per channel, templates, signatures, backoff, masking,
the job-scoped key gate."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from supertest_api.auth.scope import RouteCall, check_job_scope
from supertest_api.errors import Forbidden
from supertest_runner.masking import MASK, Masker

from supertest.alert_rules import Event, Rule, decide, streak_before
from supertest.db.outbox import decisions
from supertest.notify.channels import Channel, context, render, sign, slack_body, webhook_request
from supertest.notify.sender import backoff
from supertest.phases import Phase

F, P, C, E, T = Phase.FAILED, Phase.PASSED, Phase.CANCELLED, Phase.ERROR, Phase.TIMED_OUT


def test_threshold_two_cap_two_alerts_on_the_2nd_and_3rd_failure_then_recovers() -> None:
    rule = Rule.of(["failure", "recovery"], threshold=2, max_per_streak=2)
    history: list[Phase] = []
    events = []
    for phase in [F, F, F, F, P, P, F]:
        events.append(decide(phase, streak_before(list(reversed(history))), rule))
        history.append(phase)
    assert events == [None, Event.FAILURE, Event.FAILURE, None, Event.RECOVERY, None, None]


def test_streaks_skip_cancelled_and_count_errors_and_timeouts() -> None:
    assert streak_before([F, C, T, E, P, F]) == 3  # newest first; Cancelled neither extends nor breaks
    assert streak_before([P, F, F]) == 0


def test_recovery_only_after_a_streak_that_alerted_and_other_events() -> None:
    rule = Rule.of(["failure", "recovery"], threshold=3)
    assert decide(P, 2, rule) is None  # two failures never alerted: no recovery noise
    assert decide(P, 3, rule) is Event.RECOVERY
    assert decide(T, 0, Rule.of(["timeout_error"])) is Event.TIMEOUT_ERROR
    assert decide(F, 0, Rule.of(["timeout_error"])) is None
    assert decide(P, 0, Rule.of(["every_run"])) is Event.EVERY_RUN
    assert decide(F, 5, Rule.of(["failure"])) is Event.FAILURE  # no cap: every failure


def test_one_alert_per_channel_and_run() -> None:
    rules = [("c1", Rule.of(["every_run"])), ("c1", Rule.of(["failure"])), ("c2", Rule.of(["recovery"]))]
    assert [(d.channel_id, d.event) for d in decisions(F, 0, rules)] == [("c1", Event.EVERY_RUN)]


ALERT = {
    "event": "failure",
    "job": {"id": "j1", "name": "shop"},
    "run": {"id": "jr-1", "phase": "Failed", "path": "/runs/jr-1"},
    "failedTests": ["a.spec.ts > x", "b.spec.ts > y"],
    "firstError": "Error: boom",
    "consecutiveFailures": 2,
}


def test_templates_fill_values_and_keep_lists_whole() -> None:
    ctx = context(ALERT, "https://st.example/")
    out = render(
        {"t": "{{job.name}} {{event}}", "l": "{{run.url}}", "f": "{{failedTests}}", "n": ["{{missing.x}}"]}, ctx
    )
    assert out == {"t": "shop failure", "l": "https://st.example/runs/jr-1", "f": ALERT["failedTests"], "n": [""]}
    assert render("tests: {{failedTests}}", ctx) == "tests: a.spec.ts > x, b.spec.ts > y"
    assert context(ALERT, None)["run"]["url"] == "/runs/jr-1"


def test_webhook_is_signed_over_the_exact_body() -> None:
    channel = Channel(
        "c",
        "hook",
        "webhook",
        {"url": "http://127.0.0.1:1/h", "bodyTemplate": {"x": "{{run.id}}"}},
        {"hmacSecret": "k" * 10},
    )
    url, body, headers = webhook_request(channel, context(ALERT, None), "jr-1:c")
    assert json.loads(body) == {"x": "jr-1"}
    assert headers["X-Supertest-Signature-256"] == "sha256=" + hmac.new(b"k" * 10, body, hashlib.sha256).hexdigest()
    assert headers["Idempotency-Key"] == "jr-1:c" and url.endswith("/h")
    assert sign("k" * 10, body + b" ") != headers["X-Supertest-Signature-256"]
    unsigned = Channel("c", "hook", "webhook", {"url": "http://127.0.0.1:1/h"})
    assert "X-Supertest-Signature-256" not in webhook_request(unsigned, context(ALERT, None), "k")[2]


def test_slack_text_has_the_facts() -> None:
    text = slack_body(context(ALERT, "https://st.example"))["text"]
    assert "shop failed" in text and "<https://st.example/runs/jr-1|jr-1>" in text
    assert "`a.spec.ts > x`" in text and "Error: boom" in text


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_masker_hides_exact_values_in_every_form() -> None:
    masker = Masker(["s3cr3t-Value", "ab", 'quo"te\\value'])
    assert masker.mask("token=s3cr3t-Value!") == f"token={MASK}!"
    assert masker.mask("ab stays: too short to mask") == "ab stays: too short to mask"
    assert masker.mask(json.dumps({"v": 'quo"te\\value'})) == json.dumps({"v": MASK}).replace('"***"', '"***"')
    assert Masker.from_env({"SUPERTEST_MASK_NAMES": "A,B", "A": "value-a", "B": ""}).mask("x value-a") == f"x {MASK}"
    assert not Masker([])


def call(method: str, template: str, **params: str) -> RouteCall:
    return RouteCall(
        method,
        template,
        {k: v for k, v in params.items() if k != "jobId"},
        {"jobId": params["jobId"]} if "jobId" in params else {},
    )


@pytest.mark.parametrize(
    ("route", "allowed"),
    [
        (call("POST", "/api/jobs/{job_id}/run", job_id="mine"), True),
        (call("POST", "/api/jobs/{job_id}/run", job_id="other"), False),
        (call("GET", "/api/runs/{run_id}", run_id="jr-mine"), True),
        (call("GET", "/api/runs/{run_id}", run_id="jr-other"), False),
        (call("GET", "/api/runs", jobId="mine"), True),
        (call("GET", "/api/runs"), False),
        (call("GET", "/api/tests"), False),
        (call("POST", "/api/test"), False),
        (call("PUT", "/api/jobs/{job_id}", job_id="mine"), False),
        (call("GET", "/api/variables"), False),
        (call("HEAD", "/api/test-results/{run_id}/{path:path}", run_id="jr-mine"), True),
    ],
)
def test_job_scoped_keys_are_default_deny(route: RouteCall, allowed: bool) -> None:
    runs = {"jr-mine": "mine", "jr-other": "other"}
    if allowed:
        check_job_scope("mine", route, runs.get)
    else:
        with pytest.raises(Forbidden):
            check_job_scope("mine", route, runs.get)
