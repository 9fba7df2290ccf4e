"""Why a seat changed and how it was asked: the names the history and its API use."""

from __future__ import annotations

from server.core.origins import SWEEPER, SYSTEM, Channel, Origin


def test_the_origins_are_the_issues_names() -> None:
    assert {origin.value for origin in Origin} == {
        "lock", "unlock", "extend", "hold_expired", "book", "payment_pending", "confirm", "cancel",
        "payment_expired", "block", "unblock",
    }  # fmt: skip


def test_the_sweeper_acts_for_nobody_through_no_channel_a_client_used() -> None:
    assert (SWEEPER.actor, SWEEPER.channel) == (SYSTEM, Channel.SYSTEM)
    assert {channel.value for channel in Channel} == {"socket", "rest", "system", "unknown"}
