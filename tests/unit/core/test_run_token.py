from __future__ import annotations

import pytest

from supertest.run_token import InvalidRunToken, RunClaims, mint, verify

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
