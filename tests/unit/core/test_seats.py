"""The seat rules, driven directly: no sockets, no database, no clock."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from server.core.errors import ErrorCode, Rejection
from server.core.origins import Origin
from server.core.seats import (
    Claim,
    Hold,
    HoldPolicy,
    Layout,
    Plan,
    SaleTerms,
    SeatChange,
    SeatState,
    SeatStatus,
    apply_plan,
    plan_block,
    plan_book,
    plan_expiry,
    plan_extend,
    plan_lock,
    plan_unlock,
    select_seats,
)

NOW = 1_000_000
TTL = 600_000
MAX_HELD = 20
MAX_HOLD = 1_800_000
LAYOUT = Layout(categories={"A1": "std", "A2": "std", "B1": "premium"})
TERMS = SaleTerms(prices={"std": 1000, "premium": 1500}, currency="EUR")


def plan_lock_now(
    claims: Mapping[str, Claim], session: str, seats: tuple[str, ...], now: int, ttl: int, max_held: int
) -> Rejection | Plan:
    """plan_lock for a showtime on sale, as most of these cases need."""
    return plan_lock(claims, TERMS, session, seats, now, HoldPolicy(ttl, MAX_HOLD, max_held))


def held(session: str, expires_at: int = NOW + 1, since: int = NOW - 1) -> Claim:
    return Claim(SeatState.HELD, session, expires_at, since)


def pending(session: str) -> Claim:
    return Claim(SeatState.PENDING, session)


def booked(session: str) -> Claim:
    return Claim(SeatState.BOOKED, session)


def accepted(result: Rejection | Plan) -> Plan:
    assert isinstance(result, Plan), result
    return result


def refused(result: Rejection | Plan | tuple[str, ...], code: ErrorCode) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.code is code
    return result


class TestSelectSeats:
    def test_keeps_order_and_drops_duplicates(self) -> None:
        assert select_seats(LAYOUT, ["B1", "A1", "B1"], 10) == ("B1", "A1")

    def test_empty_selection_is_invalid(self) -> None:
        refused(select_seats(LAYOUT, [], 10), ErrorCode.INVALID_MESSAGE)

    def test_too_many_seats(self) -> None:
        refused(select_seats(LAYOUT, ["A1", "A2", "B1"], 2), ErrorCode.TOO_MANY_SEATS)

    def test_duplicates_do_not_count_against_the_limit(self) -> None:
        assert select_seats(LAYOUT, ["A1", "A1", "A1"], 1) == ("A1",)

    def test_unknown_seats_are_named(self) -> None:
        rejection = refused(select_seats(LAYOUT, ["A1", "Z9", "Q1"], 10), ErrorCode.UNKNOWN_SEAT)
        assert rejection.seats == ("Z9", "Q1")


class TestLock:
    def test_free_seats_are_held_until_ttl(self) -> None:
        plan = accepted(plan_lock_now({}, "me", ("A1", "A2"), NOW, TTL, MAX_HELD))
        assert plan.hold == {"A1": Hold(NOW + TTL, NOW), "A2": Hold(NOW + TTL, NOW)}
        assert plan.hold_until == NOW + TTL
        assert plan.session_id == "me"
        assert [(c.seat, c.status, c.session_id) for c in plan.changes] == [
            ("A1", SeatStatus.LOCKED, "me"),
            ("A2", SeatStatus.LOCKED, "me"),
        ]

    def test_all_or_nothing_names_every_conflict(self) -> None:
        claims = {"A2": held("other"), "B1": booked("someone")}
        rejection = refused(
            plan_lock_now(claims, "me", ("A1", "A2", "B1"), NOW, TTL, MAX_HELD), ErrorCode.SEAT_UNAVAILABLE
        )
        assert rejection.seats == ("A2", "B1")

    def test_relocking_own_hold_extends_it_silently(self) -> None:
        plan = accepted(plan_lock_now({"A1": held("me", since=NOW - 5)}, "me", ("A1", "A2"), NOW, TTL, MAX_HELD))
        assert plan.hold == {"A1": Hold(NOW + TTL, NOW - 5), "A2": Hold(NOW + TTL, NOW)}
        assert plan.hold_until == NOW + TTL
        assert [c.seat for c in plan.changes] == ["A2"]

    def test_a_lapsed_hold_of_another_session_is_free(self) -> None:
        plan = accepted(plan_lock_now({"A1": held("other", expires_at=NOW)}, "me", ("A1",), NOW, TTL, MAX_HELD))
        assert [(c.seat, c.session_id) for c in plan.changes] == [("A1", "me")]
        assert plan.hold == {"A1": Hold(NOW + TTL, NOW)}  # a hold of its own, from now

    def test_a_hold_one_millisecond_from_expiry_is_still_taken(self) -> None:
        refused(
            plan_lock_now({"A1": held("other", expires_at=NOW + 1)}, "me", ("A1",), NOW, TTL, MAX_HELD),
            ErrorCode.SEAT_UNAVAILABLE,
        )

    def test_a_session_holds_at_most_max_held_seats_of_a_showtime(self) -> None:
        claims = {"A1": held("me"), "A2": held("me"), "B1": held("other")}
        rejection = refused(plan_lock_now(claims, "me", ("B2",), NOW, TTL, 2), ErrorCode.HOLD_LIMIT_REACHED)
        assert "2" in rejection.message
        # Re-locking seats already held counts them once; lapsed holds do not count.
        accepted(plan_lock_now(claims, "me", ("A1", "A2"), NOW, TTL, 2))
        lapsed = {"A1": held("me", expires_at=NOW), "A2": held("me")}
        accepted(plan_lock_now(lapsed, "me", ("B2",), NOW, TTL, 2))

    def test_own_booked_seat_cannot_be_locked_again(self) -> None:
        refused(plan_lock_now({"A1": booked("me")}, "me", ("A1",), NOW, TTL, MAX_HELD), ErrorCode.SEAT_UNAVAILABLE)


class TestHoldCap:
    """No hold lasts past MAX_HOLD after its session first held the seat, however often it is locked again."""

    POLICY = HoldPolicy(ttl_ms=TTL, max_ms=3 * TTL, max_seats=MAX_HELD)

    def lock(self, claims: dict[str, Claim], session: str, seats: tuple[str, ...], now: int) -> Rejection | Plan:
        """Lock at ``now``, carrying an accepted plan out on ``claims`` as the store would."""
        outcome = plan_lock(claims, TERMS, session, seats, now, self.POLICY)
        if isinstance(outcome, Plan):
            apply_plan(claims, outcome)
        return outcome

    def test_relocking_extends_from_now_but_never_past_the_first_lock_plus_the_cap(self) -> None:
        claims: dict[str, Claim] = {}
        expiries = [accepted(self.lock(claims, "me", ("A1",), NOW + at)).hold_until for at in (0, 300_000, 1_000_000)]
        assert expiries == [NOW + TTL, NOW + 300_000 + TTL, NOW + 1_000_000 + TTL]
        capped = accepted(self.lock(claims, "me", ("A1",), NOW + 1_500_000))
        assert capped.hold == {"A1": Hold(NOW + 3 * TTL, NOW)}  # not NOW + 1_500_000 + TTL
        assert capped.changes == ()  # still its own live hold: nothing to announce
        assert claims["A1"] == Claim(SeatState.HELD, "me", NOW + 3 * TTL, NOW)
        again = accepted(self.lock(claims, "me", ("A1",), NOW + 3 * TTL - 1))  # the last moment: no longer
        assert again.hold_until == NOW + 3 * TTL

    def test_a_hold_at_its_cap_is_refused_to_its_own_session_until_swept(self) -> None:
        claims = {"A1": held("me", expires_at=NOW + 3 * TTL, since=NOW), "A2": held("me", since=NOW + 5)}
        at_cap = NOW + 3 * TTL
        rejection = refused(self.lock(claims, "me", ("A2", "A1", "B1"), at_cap), ErrorCode.SEAT_UNAVAILABLE)
        assert rejection.seats == ("A1",)  # and neither A2 nor B1 was held: all or nothing
        assert "as long as a hold may last" in rejection.message
        assert claims["A1"] == held("me", expires_at=at_cap, since=NOW)
        refused(self.lock(claims, "me", ("A1",), at_cap + TTL), ErrorCode.SEAT_UNAVAILABLE)  # however late
        apply_plan(claims, sweep := plan_expiry(claims, at_cap + TTL))
        assert sweep.release == ("A1", "A2")
        fresh = accepted(self.lock(claims, "me", ("A1",), at_cap + TTL))
        assert fresh.hold == {"A1": Hold(at_cap + 2 * TTL, at_cap + TTL)}  # a new hold, with a cap of its own
        assert [c.status for c in fresh.changes] == [SeatStatus.LOCKED]

    def test_another_session_may_take_a_capped_hold_over_before_the_sweep(self) -> None:
        claims = {"A1": held("me", expires_at=NOW, since=NOW - 3 * TTL)}
        taken = accepted(self.lock(claims, "other", ("A1",), NOW))
        assert taken.hold == {"A1": Hold(NOW + TTL, NOW)}
        assert [(c.seat, c.status, c.session_id) for c in taken.changes] == [("A1", SeatStatus.LOCKED, "other")]

    def test_a_lapsed_hold_relocked_by_its_session_keeps_counting_from_its_first_lock(self) -> None:
        claims = {"A1": held("me", expires_at=NOW - 1, since=NOW - 2 * TTL)}
        plan = accepted(self.lock(claims, "me", ("A1",), NOW))
        assert plan.hold == {"A1": Hold(NOW + TTL, NOW - 2 * TTL)}
        assert [c.seat for c in plan.changes] == ["A1"]  # lapsed: announced as locked again
        assert accepted(self.lock(claims, "me", ("A1",), NOW + TTL // 2)).hold_until == NOW + TTL

    def test_seats_with_different_caps_are_acked_with_the_first_to_lapse(self) -> None:
        claims = {"A1": held("me", since=NOW - 2 * TTL - 100)}
        plan = accepted(self.lock(claims, "me", ("A1", "A2"), NOW))
        assert plan.hold == {"A1": Hold(NOW + TTL - 100, NOW - 2 * TTL - 100), "A2": Hold(NOW + TTL, NOW)}
        assert plan.hold_until == NOW + TTL - 100

    def test_a_cap_shorter_than_the_ttl_bounds_even_a_first_lock(self) -> None:
        short = HoldPolicy(ttl_ms=TTL, max_ms=TTL // 2, max_seats=MAX_HELD)
        assert accepted(plan_lock({}, TERMS, "me", ("A1",), NOW, short)).hold_until == NOW + TTL // 2


class TestExtend:
    POLICY = HoldPolicy(ttl_ms=TTL, max_ms=3 * TTL, max_seats=MAX_HELD)

    def test_extends_live_holds_like_a_relock_and_announces_each_seat_locked_again(self) -> None:
        claims = {"A1": held("me", since=NOW - 2 * TTL - 100), "A2": held("me", since=NOW - 5)}
        plan = accepted(plan_extend(claims, TERMS, "me", ("A1", "A2"), NOW, self.POLICY))
        relock = accepted(plan_lock(claims, TERMS, "me", ("A1", "A2"), NOW, self.POLICY))
        assert (
            plan.hold
            == relock.hold
            == {
                "A1": Hold(NOW + TTL - 100, NOW - 2 * TTL - 100),
                "A2": Hold(NOW + TTL, NOW - 5),
            }
        )
        assert relock.changes == ()  # a re-lock stays silent
        assert plan.changes == (
            SeatChange("A1", SeatStatus.LOCKED, "me", Origin.EXTEND),
            SeatChange("A2", SeatStatus.LOCKED, "me", Origin.EXTEND),
        )

    def test_a_hold_already_at_its_cap_is_kept_and_not_announced(self) -> None:
        at_cap = held("me", expires_at=NOW + 50, since=NOW + 50 - 3 * TTL)
        claims = {"A1": at_cap, "A2": held("me")}
        plan = accepted(plan_extend(claims, TERMS, "me", ("A1", "A2"), NOW, self.POLICY))
        assert plan.hold["A1"] == Hold(NOW + 50, NOW + 50 - 3 * TTL)
        assert plan.changes == (SeatChange("A2", SeatStatus.LOCKED, "me", Origin.EXTEND),)
        alone = accepted(plan_extend({"A1": at_cap}, TERMS, "me", ("A1",), NOW, self.POLICY))
        assert alone.hold_until == NOW + 50
        assert alone.changes == ()  # nothing moved: nothing announced, nothing logged

    @pytest.mark.parametrize(
        "claim",
        [
            None,
            held("other"),
            held("me", expires_at=NOW),
            held("me", expires_at=NOW, since=NOW - 3 * TTL),
            booked("me"),
        ],
        ids=["free", "foreign", "lapsed", "capped", "sold"],
    )
    def test_refuses_seats_without_a_live_hold_of_the_session(self, claim: Claim | None) -> None:
        claims = {"A1": held("me")} | ({"A2": claim} if claim else {})
        rejection = refused(plan_extend(claims, TERMS, "me", ("A1", "A2"), NOW, self.POLICY), ErrorCode.NOT_LOCK_OWNER)
        assert rejection.seats == ("A2",)

    def test_outside_the_sales_window_nothing_is_extended(self) -> None:
        closed = SaleTerms(TERMS.prices, TERMS.currency, sales_close_at=NOW)
        refused(plan_extend({"A1": held("me")}, closed, "me", ("A1",), NOW, self.POLICY), ErrorCode.SALES_CLOSED)


class TestUnlock:
    def test_releases_own_holds(self) -> None:
        plan = accepted(plan_unlock({"A1": held("me"), "A2": held("me")}, "me", ("A1", "A2")))
        assert plan.release == ("A1", "A2")
        assert {c.status for c in plan.changes} == {SeatStatus.UNLOCKED}

    @pytest.mark.parametrize("claim", [None, held("other"), booked("me")])
    def test_refuses_seats_not_held_by_the_session(self, claim: Claim | None) -> None:
        claims = {"A1": held("me")} | ({"A2": claim} if claim else {})
        rejection = refused(plan_unlock(claims, "me", ("A1", "A2")), ErrorCode.NOT_LOCK_OWNER)
        assert rejection.seats == ("A2",)

    def test_a_lapsed_unswept_hold_can_still_be_released_by_its_owner(self) -> None:
        accepted(plan_unlock({"A1": held("me", expires_at=NOW - 5)}, "me", ("A1",)))


class TestBook:
    def test_sells_live_holds_at_category_prices(self) -> None:
        plan = accepted(plan_book({"A1": held("me"), "B1": held("me")}, TERMS, LAYOUT, "me", ("A1", "B1"), NOW))
        assert dict(plan.sell) == {"A1": 1000, "B1": 1500}
        assert plan.total_cents == 2500
        assert plan.release == ("A1", "B1")
        assert {c.status for c in plan.changes} == {SeatStatus.BOOKED}

    @pytest.mark.parametrize(
        "claim",
        [None, held("other"), held("me", expires_at=NOW), booked("me")],
        ids=["free", "foreign", "lapsed", "sold"],
    )
    def test_refuses_seats_without_a_live_hold_of_the_session(self, claim: Claim | None) -> None:
        claims = {"A1": held("me")} | ({"A2": claim} if claim else {})
        rejection = refused(plan_book(claims, TERMS, LAYOUT, "me", ("A1", "A2"), NOW), ErrorCode.NOT_LOCK_OWNER)
        assert rejection.seats == ("A2",)


class TestPendingBooking:
    """A booking awaiting payment: its seats stay taken, and no hold rule can touch them."""

    def test_a_book_with_a_payment_step_sells_the_seats_pending_and_announces_them_locked(self) -> None:
        claims = {"A1": held("me"), "B1": held("me")}
        plan = accepted(plan_book(claims, TERMS, LAYOUT, "me", ("A1", "B1"), NOW, payment_ms=900_000))
        assert (dict(plan.sell), plan.payment_due_at, plan.release) == (
            {"A1": 1000, "B1": 1500},
            NOW + 900_000,
            ("A1", "B1"),
        )
        assert [(c.seat, c.status, c.session_id) for c in plan.changes] == [
            ("A1", SeatStatus.LOCKED, "me"), ("B1", SeatStatus.LOCKED, "me"),
        ]  # fmt: skip
        apply_plan(claims, plan)
        assert claims == {"A1": pending("me"), "B1": pending("me")}
        assert accepted(plan_book({"A1": held("me")}, TERMS, LAYOUT, "me", ("A1",), NOW)).payment_due_at is None

    def test_its_seats_cannot_be_locked_unlocked_booked_or_blocked_even_by_its_session(self) -> None:
        claims = {"A1": pending("me")}
        for session in ("me", "other"):
            refused(plan_lock_now(claims, session, ("A1",), NOW, TTL, MAX_HELD), ErrorCode.SEAT_UNAVAILABLE)
            refused(plan_unlock(claims, session, ("A1",)), ErrorCode.NOT_LOCK_OWNER)
            refused(plan_book(claims, TERMS, LAYOUT, session, ("A1",), NOW), ErrorCode.NOT_LOCK_OWNER)
        refused(plan_block(claims, ("A1",), "camera"), ErrorCode.SEAT_UNAVAILABLE)

    def test_its_seats_do_not_lapse_with_the_hold_ttl(self) -> None:
        assert plan_expiry({"A1": pending("me")}, NOW + 10 * TTL).release == ()


class TestExpiry:
    def test_releases_exactly_the_lapsed_holds(self) -> None:
        claims = {
            "A1": held("a", expires_at=NOW - 1),
            "A2": held("b", expires_at=NOW),
            "B1": held("c", expires_at=NOW + 1),
        }
        plan = plan_expiry(claims, NOW)
        assert plan.release == ("A1", "A2")
        assert [(c.seat, c.status, c.session_id) for c in plan.changes] == [
            ("A1", SeatStatus.UNLOCKED, "a"),
            ("A2", SeatStatus.UNLOCKED, "b"),
        ]

    def test_never_touches_bookings(self) -> None:
        assert plan_expiry({"A1": booked("a")}, NOW).release == ()


class TestApplyPlan:
    """Rules decided in one batch see the claims as the plans before them left them."""

    def test_a_second_lock_in_the_same_batch_sees_the_first(self) -> None:
        claims: dict[str, Claim] = {}
        apply_plan(claims, accepted(plan_lock_now(claims, "a", ("A1",), NOW, TTL, MAX_HELD)))
        assert claims == {"A1": Claim(SeatState.HELD, "a", NOW + TTL, NOW)}
        refused(plan_lock_now(claims, "b", ("A1", "A2"), NOW, TTL, MAX_HELD), ErrorCode.SEAT_UNAVAILABLE)

    def test_unlock_frees_and_book_sells(self) -> None:
        claims = {"A1": held("a"), "A2": held("a")}
        apply_plan(claims, accepted(plan_unlock(claims, "a", ("A1",))))
        apply_plan(claims, accepted(plan_book(claims, TERMS, LAYOUT, "a", ("A2",), NOW)))
        assert claims == {"A2": Claim(SeatState.BOOKED, "a")}
        accepted(plan_lock_now(claims, "b", ("A1",), NOW, TTL, MAX_HELD))
