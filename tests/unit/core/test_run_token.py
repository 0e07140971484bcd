from __future__ import annotations

import pytest

from supertest.run_token import InvalidRunToken, RunClaims, mint, revoked_by, verify

KEY = b"k" * 32
NOW = 1_800_000_000.0
CLAIMS = RunClaims(namespace="team-a", name="tr-1", kind="test", expires_at=int(NOW) + 600)


def test_a_genuine_token_verifies_for_its_own_run() -> None:
    assert verify(KEY, mint(KEY, CLAIMS), "team-a", "tr-1", now=NOW) == CLAIMS


def test_expiry() -> None:
    token = mint(KEY, CLAIMS)
    with pytest.raises(InvalidRunToken, match="expired"):
        verify(KEY, token, "team-a", "tr-1", now=NOW + 601)


def test_another_run_or_namespace_is_refused() -> None:
    token = mint(KEY, CLAIMS)
    with pytest.raises(InvalidRunToken, match="another run"):
        verify(KEY, token, "team-a", "tr-2", now=NOW)
    with pytest.raises(InvalidRunToken, match="another run"):
        verify(KEY, token, "team-b", "tr-1", now=NOW)


def test_tampered_forged_and_malformed_tokens_are_refused() -> None:
    token = mint(KEY, CLAIMS)
    body, signature = token.split(".")
    other = mint(KEY, RunClaims("team-a", "tr-2", "test", CLAIMS.expires_at))
    with pytest.raises(InvalidRunToken, match="signature"):
        verify(KEY, f"{other.split('.')[0]}.{signature}", "team-a", "tr-2", now=NOW)  # claims swapped
    with pytest.raises(InvalidRunToken, match="signature"):
        verify(b"x" * 32, token, "team-a", "tr-1", now=NOW)  # signed with another key
    for bad in ("", "abc", "a.b.c", "x" * 5000, f"{body}."):
        with pytest.raises(InvalidRunToken):
            verify(KEY, bad, "team-a", "tr-1", now=NOW)


def test_the_issue_time_round_trips_and_old_tokens_read_as_zero() -> None:
    issued = RunClaims("team-a", "tr-1", "test", int(NOW) + 600, issued_at=int(NOW))
    assert verify(KEY, mint(KEY, issued), "team-a", "tr-1", now=NOW).issued_at == int(NOW)
    assert verify(KEY, mint(KEY, CLAIMS), "team-a", "tr-1", now=NOW).issued_at == 0


def test_a_run_that_ended_revokes_only_the_tokens_issued_before_its_end() -> None:
    issued = RunClaims("team-a", "tr-1", "test", int(NOW) + 600, issued_at=int(NOW))
    assert not revoked_by(issued, None)  # still running
    assert revoked_by(issued, NOW + 30)  # ended after the token was issued
    assert not revoked_by(issued, NOW - 30)  # the token is newer: a retried attempt, or a new run of that name
    assert revoked_by(CLAIMS, NOW + 30)  # an old token without an issue time: any recorded end revokes it
