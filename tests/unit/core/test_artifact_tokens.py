from __future__ import annotations

import pytest

from supertest.artifacts import tokens

KEY = b"k" * 32
NOW = 1_800_000_000


def test_a_token_opens_its_run_until_it_expires() -> None:
    token = tokens.mint(KEY, "tr-abc", "test", ttl_seconds=3600, now=NOW)
    grant = tokens.verify(KEY, token, "tr-abc", now=NOW + 3599)
    assert grant.run_id == "tr-abc" and grant.kind == "test"
    assert NOW + 3600 <= grant.expires_at <= NOW + 3600 + 900
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(KEY, token, "tr-abc", now=grant.expires_at)


def test_mints_within_a_step_agree_so_urls_stay_stable() -> None:
    assert tokens.mint(KEY, "r", "job", 3600, now=NOW) == tokens.mint(KEY, "r", "job", 3600, now=NOW + 1)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace(".test.", ".job."),  # another store
        lambda t: str(int(t.split(".")[0]) + 86_400) + t[t.index(".") :],  # stretched expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # flipped MAC
        lambda t: t.split(".", 1)[1],  # missing field
        lambda t: "",
    ],
)
def test_tampered_tokens_are_refused(forge: object) -> None:
    token = tokens.mint(KEY, "tr-abc", "test", 3600, now=NOW)
    assert callable(forge)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, forge(token), "tr-abc", now=NOW)


def test_a_token_does_not_open_another_run_or_verify_under_another_key() -> None:
    token = tokens.mint(KEY, "tr-abc", "test", 3600, now=NOW)
    with pytest.raises(tokens.InvalidToken, match="not valid for this run"):
        tokens.verify(KEY, token, "tr-abd", now=NOW)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(b"x" * 32, token, "tr-abc", now=NOW)
