"""The checkout rules, driven directly: a booking and the claims on its seats in, a plan or a refusal out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from server.core.bookings import MOVES, BookingEvent, BookingStatus, Transition, legal
from server.core.checkout import LATE, SYSTEM, advance, finished, plan_cancel, plan_confirm, plan_sweep
from server.core.errors import ErrorCode, Rejection
from server.core.records import BookingRecord, TransitionRecord
from server.core.seats import Claim, Plan, SeatState, SeatStatus, apply_plan

NOW = 5_000_000
BUYER = "s_buyer"
PENDING, CONFIRMED, CANCELLED, EXPIRED = (
    BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.EXPIRED,
)  # fmt: skip


def booking(status: BookingStatus = PENDING, **fields: object) -> BookingRecord:
    """A booking of A1 and A2 by BUYER, made at NOW - 1000 and due at NOW + 1000 when pending."""
    made = BookingRecord(
        "bk_1", "st", BUYER, PENDING, {"A1": 1000, "A2": 1500}, "Ada", "ada@example.com", 2500, "EUR", NOW - 1000,
        payment_due_at=NOW + 1000, transitions=(TransitionRecord(1, PENDING, BUYER, NOW - 1000),),
    )  # fmt: skip
    if status is not PENDING:
        made = replace(
            made, status=status, transitions=(*made.transitions, TransitionRecord(2, status, "x", NOW - 500))
        )
    return replace(made, **fields)  # type: ignore[arg-type]


def taken_by_it(status: BookingStatus = PENDING) -> dict[str, Claim]:
    state = SeatState.PENDING if status is PENDING else SeatState.BOOKED
    return {"A1": Claim(state, BUYER), "A2": Claim(state, BUYER)}


def accepted(result: Rejection | Plan) -> Plan:
    assert isinstance(result, Plan), result
    return result


def refused(result: Rejection | Plan, code: ErrorCode) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.code is code, result
    return result


def moved(plan: Plan) -> Transition:
    [move] = plan.transitions
    return move


def announced(plan: Plan) -> list[tuple[str, SeatStatus, str]]:
    return [(change.seat, change.status, change.session_id) for change in plan.changes]


def confirm(claims: Mapping[str, Claim], found: BookingRecord | None, reference: str = "pay_1") -> Rejection | Plan:
    return plan_confirm(claims, found, "admin", reference, "stripe", NOW)


class TestConfirm:
    def test_a_pending_booking_is_confirmed_and_its_seats_announced_booked(self) -> None:
        claims = taken_by_it()
        plan = accepted(confirm(claims, booking()))
        move = moved(plan)
        assert (move.status, move.event, move.position, move.actor, move.at) == (
            CONFIRMED, BookingEvent.CONFIRMED, 2, "admin", NOW,
        )  # fmt: skip
        assert (move.payment_reference, move.payment_provider, move.take, move.free) == (
            "pay_1",
            "stripe",
            False,
            False,
        )
        assert announced(plan) == [("A1", SeatStatus.BOOKED, BUYER), ("A2", SeatStatus.BOOKED, BUYER)]
        apply_plan(claims, plan)
        assert claims == {"A1": Claim(SeatState.BOOKED, BUYER), "A2": Claim(SeatState.BOOKED, BUYER)}

    def test_a_pending_booking_past_its_due_time_not_yet_expired_is_still_confirmed(self) -> None:
        """Whichever commits first wins: until the sweeper has expired it, the booking is pending."""
        assert moved(accepted(confirm(taken_by_it(), booking(payment_due_at=NOW - 1)))).status is CONFIRMED

    def test_the_same_payment_told_again_changes_nothing(self) -> None:
        again = accepted(confirm(taken_by_it(CONFIRMED), booking(CONFIRMED, payment_reference="pay_1")))
        assert (again.transitions, again.changes) == ((), ())

    def test_another_payment_for_a_confirmed_booking_is_refused(self) -> None:
        other = refused(
            confirm(taken_by_it(CONFIRMED), booking(CONFIRMED, payment_reference="pay_0")), ErrorCode.BOOKING_CONFIRMED
        )
        assert "pay_0" in other.message

    def test_an_unknown_booking_is_not_found(self) -> None:
        refused(confirm({}, None), ErrorCode.NOT_FOUND)

    @pytest.mark.parametrize("status", [EXPIRED, CANCELLED])
    def test_a_finished_booking_whose_seats_are_free_is_taken_again_and_confirmed(self, status: BookingStatus) -> None:
        lapsed = Claim(SeatState.HELD, "s_other", NOW)  # lapsed at NOW, not swept yet
        claims = {"A2": lapsed}
        plan = accepted(confirm(claims, booking(status)))
        move = moved(plan)
        assert (move.status, move.event, move.take, move.position) == (CONFIRMED, BookingEvent.CONFIRMED, True, 3)
        assert plan.release == ("A2",)  # the lapsed hold goes
        assert announced(plan) == [("A1", SeatStatus.BOOKED, BUYER), ("A2", SeatStatus.BOOKED, BUYER)]
        apply_plan(claims, plan)
        assert claims == {"A1": Claim(SeatState.BOOKED, BUYER), "A2": Claim(SeatState.BOOKED, BUYER)}

    @pytest.mark.parametrize(
        "claim",
        [
            Claim(SeatState.HELD, "s_other", NOW + 1),
            Claim(SeatState.HELD, BUYER, NOW + 1),  # even the buyer's own new hold: it is not free
            Claim(SeatState.PENDING, "s_other"),
            Claim(SeatState.BOOKED, "s_other"),
            Claim(SeatState.BLOCKED, ""),
        ],
        ids=["held", "held by the buyer", "pending", "booked", "blocked"],
    )
    @pytest.mark.parametrize("status", [EXPIRED, CANCELLED])
    def test_a_late_payment_for_seats_gone_is_recorded_and_the_status_kept(
        self, status: BookingStatus, claim: Claim
    ) -> None:
        claims = {"A2": claim}
        plan = accepted(confirm(claims, booking(status)))
        move = moved(plan)
        assert (move.status, move.event, move.take, move.free) == (status, BookingEvent.LATE_PAYMENT, False, False)
        assert (move.payment_reference, move.position) == ("pay_1", 3)
        assert move.detail is not None
        assert LATE in move.detail
        assert (plan.changes, plan.release) == ((), ())
        apply_plan(claims, plan)
        assert claims == {"A2": claim}

    @pytest.mark.parametrize(
        ("status", "code"), [(EXPIRED, ErrorCode.BOOKING_EXPIRED), (CANCELLED, ErrorCode.BOOKING_CANCELLED)]
    )
    def test_a_late_payment_told_again_is_refused_without_recording_it_twice(
        self, status: BookingStatus, code: ErrorCode
    ) -> None:
        refused(confirm({}, booking(status, payment_reference="pay_1")), code)  # even with its seats free now


class TestCancel:
    def test_the_buyer_cancels_its_pending_booking_and_the_seats_go_at_once(self) -> None:
        claims = taken_by_it()
        plan = accepted(plan_cancel(claims, booking(), BUYER, False, "changed my mind", NOW))
        move = moved(plan)
        assert (move.status, move.event, move.free, move.actor) == (CANCELLED, BookingEvent.CANCELLED, True, BUYER)
        assert (move.cancel_reason, move.detail) == ("changed my mind", "changed my mind")
        assert announced(plan) == [("A1", SeatStatus.UNLOCKED, BUYER), ("A2", SeatStatus.UNLOCKED, BUYER)]
        apply_plan(claims, plan)
        assert claims == {}

    @pytest.mark.parametrize("status", [PENDING, CONFIRMED])
    def test_the_shop_cancels_a_pending_or_confirmed_booking(self, status: BookingStatus) -> None:
        plan = accepted(plan_cancel(taken_by_it(status), booking(status), "admin", True, None, NOW))
        assert (moved(plan).status, moved(plan).actor, moved(plan).cancel_reason) == (CANCELLED, "admin", None)
        assert [status for _, status, _ in announced(plan)] == [SeatStatus.UNLOCKED] * 2

    @pytest.mark.parametrize(
        ("status", "shop", "code"),
        [
            (CONFIRMED, False, ErrorCode.BOOKING_CONFIRMED),
            (CANCELLED, False, ErrorCode.BOOKING_CANCELLED),
            (EXPIRED, False, ErrorCode.BOOKING_EXPIRED),
            (CANCELLED, True, ErrorCode.BOOKING_CANCELLED),
            (EXPIRED, True, ErrorCode.BOOKING_EXPIRED),
        ],
    )
    def test_what_is_finished_stays_so(self, status: BookingStatus, shop: bool, code: ErrorCode) -> None:
        refused(plan_cancel({}, booking(status), "admin" if shop else BUYER, shop, None, NOW), code)

    def test_another_sessions_booking_is_unknown_to_a_buyer(self) -> None:
        refused(plan_cancel(taken_by_it(), booking(), "s_stranger", False, None, NOW), ErrorCode.NOT_FOUND)
        refused(plan_cancel({}, None, BUYER, False, None, NOW), ErrorCode.NOT_FOUND)


class TestSweep:
    def test_expires_the_pending_bookings_due_by_now_and_releases_lapsed_holds(self) -> None:
        due, later = booking(), booking(id="bk_2", items={"B1": 1000}, payment_due_at=NOW + 1001)
        paid = booking(CONFIRMED, id="bk_3", items={"C1": 1000})
        claims = {"D1": Claim(SeatState.HELD, "s_h", NOW + 1000), "D2": Claim(SeatState.HELD, "s_h", NOW + 1001)}
        plan = plan_sweep(claims, [due, later, paid], NOW + 1000)
        [move] = plan.transitions
        assert (move.booking_id, move.status, move.event, move.actor, move.free, move.position) == (
            "bk_1", EXPIRED, BookingEvent.EXPIRED, SYSTEM, True, 2,
        )  # fmt: skip
        assert plan.release == ("D1",)
        assert announced(plan) == [
            ("D1", SeatStatus.UNLOCKED, "s_h"), ("A1", SeatStatus.UNLOCKED, BUYER), ("A2", SeatStatus.UNLOCKED, BUYER),
        ]  # fmt: skip

    def test_a_booking_not_due_yet_never_expires(self) -> None:
        plan = plan_sweep({}, [booking()], NOW + 999)
        assert (plan.transitions, plan.changes) == ((), ())


class TestAdvance:
    def test_each_status_reached_stamps_its_time_and_the_log_grows(self) -> None:
        paid = advance(booking(), moved(accepted(confirm(taken_by_it(), booking()))))
        assert (paid.status, paid.confirmed_at, paid.payment_reference, paid.payment_provider) == (
            CONFIRMED, NOW, "pay_1", "stripe",
        )  # fmt: skip
        assert paid.transitions[-1] == TransitionRecord(2, CONFIRMED, "admin", NOW, "stripe pay_1")
        refunded = advance(paid, moved(accepted(plan_cancel({}, paid, "admin", True, "refund", NOW + 5))))
        assert (refunded.status, refunded.cancelled_at, refunded.cancel_reason) == (CANCELLED, NOW + 5, "refund")
        assert (refunded.confirmed_at, refunded.payment_reference) == (NOW, "pay_1")  # history is kept
        assert [t.position for t in refunded.transitions] == [1, 2, 3]
        expired = advance(booking(), moved(plan_sweep({}, [booking()], NOW + 1000)))
        assert (expired.status, expired.expired_at) == (EXPIRED, NOW + 1000)

    def test_a_late_payment_is_logged_and_kept_but_reaches_no_status(self) -> None:
        gone = booking(EXPIRED, expired_at=NOW - 500)
        late = advance(gone, moved(accepted(confirm({"A1": Claim(SeatState.BOOKED, "s_x")}, gone))))
        assert (late.status, late.expired_at, late.confirmed_at, late.payment_reference) == (
            EXPIRED, NOW - 500, None, "pay_1",
        )  # fmt: skip
        assert (late.transitions[-1].position, late.transitions[-1].status) == (3, EXPIRED)
        assert finished(late).code is ErrorCode.BOOKING_EXPIRED


def test_every_move_the_rules_make_is_a_legal_one() -> None:
    outcomes: list[tuple[BookingStatus, Rejection | Plan]] = []
    free: dict[str, Claim] = {}
    gone = {"A1": Claim(SeatState.BOOKED, "s_x")}
    for status in BookingStatus:
        found = booking(status)
        outcomes += [(status, confirm(taken_by_it(status) if status.takes_seats else free, found))]
        outcomes += [(status, confirm(gone, found)), (status, confirm(free, found, "pay_2"))]
        outcomes += [(status, plan_cancel({}, found, actor, actor == "admin", None, NOW)) for actor in (BUYER, "admin")]
        outcomes += [(status, plan_sweep({}, [found], NOW + 5000))]
    reached = set()
    for before, outcome in outcomes:
        for move in outcome.transitions if isinstance(outcome, Plan) else ():
            assert legal(before, move.status), (before, move)
            reached.add((before, move.status))
    assert reached == {(before, after) for before, afters in MOVES.items() for after in afters}


def test_a_move_changes_only_its_own_seats() -> None:
    claims = taken_by_it() | {"B1": Claim(SeatState.HELD, "s_other", NOW + 1)}
    apply_plan(claims, accepted(plan_cancel(claims, booking(), BUYER, False, None, NOW)))
    assert claims == {"B1": Claim(SeatState.HELD, "s_other", NOW + 1)}
    assert "B1" not in {change.seat for change in plan_sweep(claims, [], NOW).changes}
