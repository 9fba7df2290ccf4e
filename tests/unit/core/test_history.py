"""Seat history: each rule names the origin of the changes it plans, and a seat's changes fold into its claim."""

from __future__ import annotations

import random

from server.core.bookings import BookingStatus
from server.core.checkout import plan_cancel, plan_confirm, plan_sweep
from server.core.errors import Rejection
from server.core.history import HistoryEntry, fold, left_by
from server.core.origins import Channel, Origin
from server.core.records import BookingRecord, TransitionRecord
from server.core.seats import (
    Claim,
    HoldPolicy,
    Layout,
    Plan,
    SaleTerms,
    SeatState,
    SeatStatus,
    apply_plan,
    plan_block,
    plan_book,
    plan_extend,
    plan_lock,
    plan_unblock,
    plan_unlock,
)

NOW = 1_000_000
SEATS = tuple(f"A{number}" for number in range(1, 41))
LAYOUT = Layout(categories=dict.fromkeys(SEATS, "std"))
TERMS = SaleTerms({"std": 1000}, "EUR")
POLICY = HoldPolicy(ttl_ms=1000, max_ms=5000, max_seats=4)


def entry(seq: int, seat: str, status: SeatStatus, origin: Origin, session: str = "s1") -> HistoryEntry:
    return HistoryEntry(seq, seat, status, session, origin, session or "admin", Channel.REST, NOW + seq)


def entries(plan: Plan, start: int = 1) -> list[HistoryEntry]:
    return [
        entry(seq, change.seat, change.status, change.origin, change.session_id)
        for seq, change in enumerate(plan.changes, start)
    ]


def origins(result: Rejection | Plan) -> list[Origin]:
    assert isinstance(result, Plan), result
    return [change.origin for change in result.changes]


def booked(status: BookingStatus, session: str = "s1") -> BookingRecord:
    return BookingRecord(
        "bk_1", "st", session, status, {"A1": 1000}, "Ada", "ada@example.com", 1000, "EUR", NOW,
        payment_due_at=NOW + 10, transitions=(TransitionRecord(1, status, session, NOW),),
    )  # fmt: skip


def test_each_rule_names_the_origin_of_its_changes() -> None:
    held = {"A1": Claim(SeatState.HELD, "s1", NOW + 500, NOW)}
    assert origins(plan_lock({}, TERMS, "s1", ["A1"], NOW, POLICY)) == [Origin.LOCK]
    assert origins(plan_extend(held, TERMS, "s1", ["A1"], NOW, POLICY)) == [Origin.EXTEND]
    assert origins(plan_unlock(held, "s1", ["A1"])) == [Origin.UNLOCK]
    assert origins(plan_book(held, TERMS, LAYOUT, "s1", ["A1"], NOW)) == [Origin.BOOK]
    assert origins(plan_book(held, TERMS, LAYOUT, "s1", ["A1"], NOW, payment_ms=60_000)) == [Origin.PAYMENT_PENDING]
    assert origins(plan_block({}, ["A2"], "camera")) == [Origin.BLOCK]
    assert origins(plan_unblock({"A2": Claim(SeatState.BLOCKED, "")}, ["A2"])) == [Origin.UNBLOCK]
    pending = {"A1": Claim(SeatState.PENDING, "s1")}
    assert origins(plan_confirm(pending, booked(BookingStatus.PENDING), "admin", "pay", "stripe", NOW)) == [
        Origin.CONFIRM
    ]
    assert origins(plan_cancel(pending, booked(BookingStatus.PENDING), "s1", False, None, NOW)) == [Origin.CANCEL]
    lapsed = {"A2": Claim(SeatState.HELD, "s2", NOW - 1, NOW - 100)}
    assert origins(plan_sweep(lapsed, [booked(BookingStatus.PENDING)], NOW + 10)) == [
        Origin.HOLD_EXPIRED, Origin.PAYMENT_EXPIRED,
    ]  # fmt: skip
    expired = booked(BookingStatus.EXPIRED)
    assert origins(plan_confirm({}, expired, "admin", "late", "stripe", NOW)) == [Origin.CONFIRM]  # seats still free


def test_a_locked_change_holds_the_seat_unless_it_sold_it_awaiting_payment() -> None:
    assert left_by(entry(1, "A1", SeatStatus.LOCKED, Origin.LOCK)) is SeatState.HELD
    assert left_by(entry(1, "A1", SeatStatus.LOCKED, Origin.PAYMENT_PENDING)) is SeatState.PENDING
    assert left_by(entry(1, "A1", SeatStatus.BOOKED, Origin.CONFIRM)) is SeatState.BOOKED
    assert left_by(entry(1, "A1", SeatStatus.BLOCKED, Origin.BLOCK, "")) is SeatState.BLOCKED
    assert left_by(entry(1, "A1", SeatStatus.UNLOCKED, Origin.HOLD_EXPIRED)) is None


def test_folding_a_history_gives_each_seat_its_last_claim() -> None:
    history = [
        entry(1, "A1", SeatStatus.LOCKED, Origin.LOCK),
        entry(2, "A2", SeatStatus.LOCKED, Origin.LOCK, "s2"),
        entry(3, "A1", SeatStatus.LOCKED, Origin.PAYMENT_PENDING),
        entry(4, "A2", SeatStatus.UNLOCKED, Origin.HOLD_EXPIRED, "s2"),
        entry(5, "A3", SeatStatus.BLOCKED, Origin.BLOCK, ""),
        entry(6, "A1", SeatStatus.BOOKED, Origin.CONFIRM),
    ]
    assert fold(history) == {"A1": (SeatState.BOOKED, "s1"), "A3": (SeatState.BLOCKED, "")}
    assert fold([]) == {}


def random_plan(rng: random.Random, claims: dict[str, Claim], now: int) -> Rejection | Plan:
    """One seat rule at random, for one of three sessions, on one or two seats: mostly its own, past locking."""
    session, seats = rng.choice(["s1", "s2", "s3"]), rng.sample(SEATS, rng.randint(1, 2))
    own = [seat for seat, claim in claims.items() if claim.session_id == session and claim.is_live_hold(now)]
    rule = rng.randrange(8)
    if rule > 1 and own and rng.random() < 0.8:
        seats = own[:2]
    if rule < 2:
        return plan_lock(claims, TERMS, session, seats, now, POLICY)
    if rule == 2:
        return plan_extend(claims, TERMS, session, seats, now, POLICY)
    if rule == 3:
        return plan_unlock(claims, session, seats)
    if rule in (4, 5):
        return plan_book(claims, TERMS, LAYOUT, session, seats, now, 60_000 if rule == 5 else None)
    if rule == 6:
        return plan_block(claims, seats, "camera") if rng.random() < 0.5 else plan_unblock(claims, seats)
    return plan_sweep({seat: claim for seat, claim in claims.items() if claim.state is SeatState.HELD}, [], now)


def test_the_history_of_random_seat_rules_folds_into_the_claims_they_leave() -> None:
    """Locks, extends, unlocks, books (confirmed and pending), blocks, unblocks and expiries at random: after
    each, the changes logged so far fold into exactly the claims the plans left."""
    rng = random.Random(13)
    claims: dict[str, Claim] = {}
    history: list[HistoryEntry] = []
    now = NOW
    for _ in range(400):
        plan = random_plan(rng, claims, now)
        if isinstance(plan, Plan):
            apply_plan(claims, plan)
            history += entries(plan, len(history) + 1)
        assert fold(history) == {seat: (claim.state, claim.session_id) for seat, claim in claims.items()}
        now += rng.randint(0, 300)
    seat_rules = {Origin.LOCK, Origin.EXTEND, Origin.UNLOCK, Origin.HOLD_EXPIRED, Origin.BOOK, Origin.PAYMENT_PENDING}
    assert {e.origin for e in history} >= seat_rules | {Origin.BLOCK, Origin.UNBLOCK}
