import pytest

from supertest.artifacts.layout import InvalidArtifactPath, report_prefix, results_key, safe_relative_path
from supertest.events import (
    EventType,
    Summary,
    decode_stdout_event,
    encode_stdout_event,
    result_event,
    status_event,
    stream_key,
)
from supertest.phases import Phase


def test_event_json_uses_the_wire_names():
    event = result_event("tr-1", Summary(total=2, passed=1, failed=1, duration_ms=1500), "/r", 1)
    raw = event.to_json()
    assert '"runId":"tr-1"' in raw
    assert '"durationMs":1500' in raw
    assert '"reportUrl":"/r"' in raw


def test_stdout_protocol_round_trips_and_ignores_plain_lines():
    event = status_event("tr-1", Phase.RUNNING, "go")
    decoded = decode_stdout_event(encode_stdout_event(event))
    assert decoded is not None
    assert decoded.type is EventType.STATUS
    assert decoded.phase is Phase.RUNNING
    assert decode_stdout_event("  1 passed (2.1s)") is None
    assert decode_stdout_event("@@supertest-event {not json") is None


def test_stream_key_matches_the_design():
    assert stream_key("tr-abc") == "supertest:run:tr-abc:events"


def test_artifact_keys_follow_the_layout():
    assert report_prefix("tr-abc") == "runs/tr-abc/report/"
    assert results_key("tr-abc") == "runs/tr-abc/results.json"
    with pytest.raises(InvalidArtifactPath):
        report_prefix("../etc")


@pytest.mark.parametrize("bad", ["../x", "a/../../b", "/etc/passwd", "a\\b", "a/./b", "", "a\x00b"])
def test_traversal_is_refused(bad):
    with pytest.raises(InvalidArtifactPath):
        safe_relative_path(bad)


def test_normal_paths_pass():
    assert safe_relative_path("report/data/abc.webm") == "report/data/abc.webm"
