"""Session tokens: valid until expiry, and impossible to alter or forge without the secret."""

from __future__ import annotations

from server.core.tokens import issue_token, new_session_id, same_secret, verify_token

SECRET = b"k" * 32


def test_a_token_names_its_session_until_it_expires() -> None:
    token = issue_token("s_abc", 2_000, SECRET)
    assert verify_token(token, 1_999, SECRET) == "s_abc"
    assert verify_token(token, 2_000, SECRET) is None


def test_another_secret_rejects_it() -> None:
    assert verify_token(issue_token("s_abc", 2_000, SECRET), 0, b"other") is None


def test_changing_the_session_or_expiry_breaks_the_signature() -> None:
    session, expiry, signature = issue_token("s_abc", 2_000, SECRET).split(".")
    assert verify_token(f"s_xyz.{expiry}.{signature}", 0, SECRET) is None
    assert verify_token(f"{session}.9999999.{signature}", 0, SECRET) is None


def test_malformed_tokens_are_rejected_not_raised() -> None:
    for token in ["", ".", "..", "a.b.c", "s_abc.12x.sig", "s_abc..sig", "\x00", "s.1." + "A" * 5000]:
        assert verify_token(token, 0, SECRET) is None


def test_session_ids_are_unique() -> None:
    assert len({new_session_id() for _ in range(1000)}) == 1000


def test_non_ascii_tokens_are_rejected_not_raised() -> None:
    for token in ["s_x.1.é", "s_x.١٢٣.sig", "é.1.sig"]:
        assert verify_token(token, 0, SECRET) is None


def test_a_secret_matches_itself_only_and_an_unset_one_nothing() -> None:
    assert same_secret("op-key", "op-key")
    assert not same_secret("op-key ", "op-key")
    assert not same_secret("op-ke", "op-key")
    assert not same_secret("", "")  # no key configured: nobody is the operator
    assert not same_secret("é", "op-key")  # untrusted text of any kind is refused, never raised on
