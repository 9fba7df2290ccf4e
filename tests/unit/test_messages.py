"""The wire schema: camelCase JSON from core records, strict parsing of client frames, and the requestId rules."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest
from pydantic import ValidationError

from server.core.bookings import BookingStatus
from server.core.changes import Accepted, Event, Notice
from server.core.errors import ErrorCode, Rejection
from server.core.origins import Origin
from server.core.records import BookingRecord, StatusView, TransitionRecord
from server.core.seats import SeatChange, SeatStatus
from server.messages import (
    Ack,
    Authenticate,
    BookingView,
    CurrentSeatStatus,
    ErrorMessage,
    Extend,
    Lock,
    SeatStatusChange,
    SeatStatusChanges,
    Subscribe,
    SubscribeFigures,
    client_message,
    describe,
    render_notice,
)

RECORD = BookingRecord(
    "bk_1", "st", "s1", BookingStatus.CONFIRMED, {"A1": 900, "A2": 900}, "Ada", "ada@example.com", 1800, "EUR", 1000,
    confirmed_at=1000, transitions=(TransitionRecord(1, BookingStatus.CONFIRMED, "s1", 1000),),
)  # fmt: skip


def wire(json: str) -> dict[str, object]:
    return dict(orjson.loads(json))


def test_a_status_view_becomes_a_current_seat_status() -> None:
    view = StatusView("st", 7, booked=["A1"], held=["A2", "A3"], mine={"A3": 9000}, at=1000, blocked=["B9"])
    assert wire(CurrentSeatStatus.of(view).to_json()) == {
        "type": "current_seat_status", "showtimeId": "st", "seq": 7, "bookedSeats": ["A1"],
        "lockedSeats": ["A2", "A3"], "mySeats": ["A3"], "holdExpiresAt": {"A3": 9000}, "blockedSeats": ["B9"],
        "timestamp": 1000,
    }  # fmt: skip


def test_a_snapshot_rendered_without_its_timestamp_and_stamped_is_the_same_text() -> None:
    views = [
        StatusView("st", 7, booked=["A1"], held=["A2", "A3"], mine={"A3": 9000}, at=1000, blocked=["B9"]),
        StatusView("st", 0, booked=[], held=[], mine={}, at=1000),
    ]
    for view in views:
        unstamped = CurrentSeatStatus.of(view).to_json_without_timestamp()
        later = replace(view, at=2500)
        assert CurrentSeatStatus.stamp(unstamped, 2500) == CurrentSeatStatus.of(later).to_json()


def test_an_event_becomes_a_seat_status_change() -> None:
    event = Event("st", 4, SeatChange("B2", SeatStatus.BOOKED, "s1", Origin.BOOK), 1234)
    assert wire(SeatStatusChange.of(event).to_json()) == {
        "type": "seat_status_change", "showtimeId": "st", "seatId": "B2", "status": "booked",
        "sessionId": "s1", "seq": 4, "timestamp": 1234,
    }  # fmt: skip


def test_an_ack_carries_only_the_fields_its_action_has() -> None:
    locked = wire(Ack.of(Accepted("lock", "st", ("A1", "A2"), expires_at=5000)).to_json())
    assert locked == {"type": "ack", "action": "lock", "showtimeId": "st", "seatIds": ["A1", "A2"], "expiresAt": 5000}
    booked = wire(Ack.of(Accepted("book", "st", ("A1",), booking=RECORD)).to_json())
    assert (booked["bookingId"], booked["status"], booked["totalCents"], booked["currency"]) == (
        "bk_1", "confirmed", 1800, "EUR",
    )  # fmt: skip
    assert "expiresAt" not in booked
    assert "paymentDueAt" not in booked
    pending = replace(RECORD, status=BookingStatus.PENDING, payment_due_at=9000, confirmed_at=None)
    due = wire(Ack.of(Accepted("book", "st", ("A1",), booking=pending)).to_json())
    assert (due["status"], due["paymentDueAt"]) == ("pending", 9000)


def test_extend_names_seats_and_tables_like_lock_and_its_ack_says_when_holds_lapse() -> None:
    message = client_message.validate_json(
        '{"type": "extend", "showtimeId": "st", "seatIds": ["A1"], "tableIds": ["T1"]}'
    )
    assert isinstance(message, Extend)
    assert (message.selection().seat_ids, message.selection().table_ids) == (["A1"], ["T1"])
    extended = wire(Ack.of(Accepted("extend", "st", ("A1",), expires_at=5000)).to_json())
    assert extended == {"type": "ack", "action": "extend", "showtimeId": "st", "seatIds": ["A1"], "expiresAt": 5000}


def test_a_booking_record_becomes_a_view_with_its_customer() -> None:
    view = wire(BookingView.of(RECORD).to_json())
    assert view["customer"] == {"name": "Ada", "email": "ada@example.com"}
    assert "sessionId" not in view  # whose session booked is nobody else's business
    assert view["items"] == [{"seatId": "A1", "priceCents": 900}, {"seatId": "A2", "priceCents": 900}]
    assert view["transitions"] == [{"position": 1, "status": "confirmed", "actor": "s1", "at": 1000}]
    phoned = replace(RECORD, customer_phone="+44 20 7946 0958", notes="aisle", order_reference="ord-7")
    view = wire(BookingView.of(phoned).to_json())
    assert view["customer"] == {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0958"}
    assert (view["notes"], view["orderReference"]) == ("aisle", "ord-7")


def test_a_webhook_body_carries_the_booking_or_the_seats_it_is_about() -> None:
    sold = wire(render_notice("evt_1", Notice("booking.confirmed", "st", 2000, booking=RECORD, position=2)))
    assert (sold["id"], sold["type"], sold["createdAt"]) == ("evt_1", "booking.confirmed", 2000)
    assert sold["data"] == wire(BookingView.of(RECORD).to_json())
    blocked = wire(render_notice("evt_2", Notice("seat.blocked", "st", 3000, seats=("A1", "A2"), reason="camera")))
    assert blocked["data"] == {"showtimeId": "st", "seatIds": ["A1", "A2"], "reason": "camera"}


def test_an_error_has_no_request_id_unless_set_and_an_explicit_none_goes_out_as_null() -> None:
    error = ErrorMessage.of(Rejection(ErrorCode.SEAT_UNAVAILABLE, "taken", ("A1",)))
    assert "requestId" not in wire(error.to_json())
    assert wire(error.model_copy(update={"request_id": "r1"}).to_json())["requestId"] == "r1"
    unreadable = wire(error.model_copy(update={"request_id": None}).to_json())
    assert unreadable["requestId"] is None
    assert unreadable["conflictingSeats"] == ["A1"]


def test_a_batch_joined_from_encoded_changes_is_the_schema_s_seat_status_changes() -> None:
    changes = [
        SeatStatusChange.of(Event('s"t', seq, SeatChange(f"B{seq}", SeatStatus.LOCKED, "s1", Origin.LOCK), 9))
        for seq in (4, 5)
    ]
    joined = SeatStatusChanges.joining('s"t', [change.to_json() for change in changes])
    assert wire(joined) == wire(SeatStatusChanges(showtime_id='s"t', changes=changes).to_json())
    assert SeatStatusChanges.model_validate_json(joined).changes == changes


def test_client_frames_are_parsed_by_type_with_the_wire_names() -> None:
    frame = '{"type":"lock","showtimeId":"st","seatIds":["A1"],"requestId":7,"unknown":true}'
    assert client_message.validate_json(frame, by_name=False) == Lock(
        type="lock", showtime_id="st", seat_ids=["A1"], request_id=7
    )
    resync = client_message.validate_json('{"type":"subscribe","showtimeId":"st","lastSeq":3}', by_name=False)
    assert isinstance(resync, Subscribe)
    assert resync.last_seq == 3
    assert resync.batch is False
    batched = client_message.validate_json('{"type":"subscribe","showtimeId":"st","batch":true}', by_name=False)
    assert isinstance(batched, Subscribe)
    assert batched.batch is True


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"teleport"}',
        '{"type":"subscribe","showtime_id":"st"}',  # Python names are not wire names
        '{"type":"subscribe","showtimeId":5}',  # strict: no coercion
        '{"type":"subscribe","showtimeId":"st","lastSeq":-1}',
        '{"type":"subscribe","showtimeId":"a\\u0000b"}',
        '{"type":"subscribe","showtimeId":"\\ud800"}',  # a lone surrogate no database can store
        '{"type":"lock","showtimeId":"st","seatIds":[""]}',
    ],
)
def test_malformed_client_frames_are_refused(frame: str) -> None:
    with pytest.raises(ValidationError):
        client_message.validate_json(frame, by_name=False)


def test_a_refusal_is_described_without_echoing_the_input() -> None:
    with pytest.raises(ValidationError) as refused:
        client_message.validate_json('{"type":"subscribe","showtimeId":"st","lastSeq":"secret"}', by_name=False)
    described = describe(refused.value, "message")
    assert described.startswith("subscribe.lastSeq: ")
    assert "secret" not in described


def test_the_admin_key_and_figures_subscriptions_parse_strictly() -> None:
    sent = client_message.validate_json('{"type":"authenticate","adminKey":"k","requestId":"a1"}', by_name=False)
    assert sent == Authenticate(type="authenticate", admin_key="k", request_id="a1")
    follow = client_message.validate_json('{"type":"subscribe_figures","showtimeId":"st"}', by_name=False)
    assert follow == SubscribeFigures(type="subscribe_figures", showtime_id="st")
    for bad in (
        '{"type":"authenticate"}',
        '{"type":"authenticate","adminKey":5}',
        '{"type":"authenticate","adminKey":"' + "k" * 513 + '"}',
        '{"type":"subscribe_figures","showtimeId":""}',
    ):
        with pytest.raises(ValidationError):
            client_message.validate_json(bad, by_name=False)
