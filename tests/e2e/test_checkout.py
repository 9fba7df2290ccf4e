"""Checkout end to end: pending bookings, confirm, cancel and refund, payment expiry, over REST and the socket, on
SQLite and PostgreSQL; what other buyers see, and the database audited after each story."""

from __future__ import annotations

from typing import Any

import pytest

from server.storage.tables import webhook_event
from tests.audit import audit
from tests.client import SeatClient
from tests.conftest import Running, StartServer
from tests.fakes import ManualClock

KEY = "the-shops-key"
SHOP = KEY  # the shop's backend calls with the operator's key
PAYMENT_SECONDS = 900
# Webhooks configured, so every move is written to the outbox (nothing delivers them here).
CHECKOUT = {
    "admin_api_key": KEY,
    "webhook_url": "http://127.0.0.1:9/hooks",
    "webhook_secret": "whsec_test",
    "payment_timeout_seconds": PAYMENT_SECONDS,
}
CUSTOMER = {"name": "Ada Lovelace", "email": "ada@example.com"}


async def call(running: Running, method: str, path: str, token: str | None = None, **request: Any) -> tuple[int, Any]:
    headers = request.pop("headers", {}) | ({"Authorization": f"Bearer {token}"} if token else {})
    async with running.http.request(method, running.http_url + path, headers=headers, **request) as response:
        return response.status, await response.json(content_type=None)


async def start(start_server: StartServer, clock: ManualClock | None = None, **settings: Any) -> Running:
    return await start_server(clock=clock, **(CHECKOUT | settings))


async def watch(running: Running, showtime: str) -> SeatClient:
    watcher = await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")
    return watcher


def seen(changes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(change["seatId"], change["status"]) for change in changes]


async def book_pending(running: Running, showtime: str, seats: list[str], **extra: Any) -> tuple[str, dict[str, Any]]:
    """A buyer's session holds ``seats`` and books them awaiting payment; its token and the ack."""
    _, token = await running.session()
    status, _ = await call(running, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": seats})
    assert status == 200
    body = {"showtimeId": showtime, "seatIds": seats, "customer": CUSTOMER, "payment": "pending", **extra}
    status, booked = await call(running, "POST", "/api/bookings", token, json=body)
    assert status == 201, booked
    return token, booked


async def confirm(running: Running, booking_id: str, reference: str = "pi_1") -> tuple[int, Any]:
    body = {"paymentReference": reference, "provider": "stripe"}
    return await call(running, "POST", f"/api/bookings/{booking_id}/confirm", SHOP, json=body)


async def cancel(running: Running, booking_id: str, token: str, reason: str | None = None) -> tuple[int, Any]:
    body = {} if reason is None else {"reason": reason}
    return await call(running, "POST", f"/api/bookings/{booking_id}/cancel", token, json=body)


async def test_a_pending_booking_from_hold_to_payment_to_refund_over_rest(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start(start_server, clock)
    showtime = await running.showtime()
    watcher = await watch(running, showtime)
    extra = {"customer": CUSTOMER | {"phone": "+44 20 7946 0958"}, "notes": "aisle,\nplease", "orderReference": "o-1"}
    token, booked = await book_pending(running, showtime, ["A1", "B2"], **extra)
    assert (booked["status"], booked["paymentDueAt"]) == ("pending", clock.now() + PAYMENT_SECONDS * 1000)
    assert (booked["totalCents"], booked["currency"], booked["seatIds"]) == (2500, "EUR", ["A1", "B2"])
    booking_id = booked["bookingId"]
    # Held, then pending: the seats are announced locked again, and stay taken.
    assert seen(await watcher.changes(4)) == [("A1", "locked"), ("B2", "locked")] * 2

    status, read = await call(running, "GET", f"/api/bookings/{booking_id}", token)
    assert status == 200
    assert (read["status"], read["customer"]["phone"], read["notes"], read["orderReference"]) == (
        "pending", "+44 20 7946 0958", "aisle,\nplease", "o-1",
    )  # fmt: skip
    assert read["items"] == [{"seatId": "A1", "priceCents": 1500}, {"seatId": "B2", "priceCents": 1000}]
    assert [(t["position"], t["status"]) for t in read["transitions"]] == [(1, "pending")]
    _, layout = await call(running, "GET", f"/api/showtimes/{showtime}")
    statuses = {seat["id"]: seat["status"] for row in layout["sections"][0]["rows"] for seat in row["seats"]}
    assert (statuses["A1"], statuses["B2"]) == ("held", "held")

    clock.advance(1000)
    status, paid = await confirm(running, booking_id)
    assert status == 200, paid
    assert (paid["status"], paid["paymentReference"], paid["provider"], paid["confirmedAt"]) == (
        "confirmed", "pi_1", "stripe", clock.now(),
    )  # fmt: skip
    assert seen(await watcher.changes(2)) == [("A1", "booked"), ("B2", "booked")]
    assert await confirm(running, booking_id) == (200, paid)  # the payment told twice: the same booking
    status, problem = await cancel(running, booking_id, token)
    assert (status, problem["code"]) == (409, "booking_confirmed")

    status, refunded = await cancel(running, booking_id, SHOP, "refund: the show was moved")
    assert (status, refunded["status"], refunded["cancelReason"]) == (200, "cancelled", "refund: the show was moved")
    assert seen(await watcher.changes(2)) == [("A1", "unlocked"), ("B2", "unlocked")]
    assert [(t["status"], t["actor"]) for t in refunded["transitions"]] == [
        ("pending", token.split(".")[0]), ("confirmed", "admin"), ("cancelled", "admin"),
    ]  # fmt: skip
    _, other = await running.session()
    again = {"showtimeId": showtime, "seatIds": ["A1", "B2"]}
    assert (await call(running, "POST", "/api/seat-locks", other, json=again))[0] == 200  # free at once
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert audited.events[booking_id] == ["booking.pending", "booking.confirmed", "booking.cancelled"]


async def test_a_pending_booking_over_the_socket_cancelled_by_its_buyer_frees_the_seats_for_everyone(
    start_server: StartServer,
) -> None:
    running = await start(start_server)
    showtime = await running.showtime()
    watcher, buyer = await watch(running, showtime), await running.client()
    await buyer.request("lock", showtimeId=showtime, seatIds=["C1", "C2"])
    ack = await buyer.request(
        "book", showtimeId=showtime, seatIds=["C1", "C2"], customer=CUSTOMER, payment="pending", orderReference="o-9"
    )
    assert ack["type"] == "ack", ack
    assert (ack["action"], ack["status"], ack["totalCents"]) == ("book", "pending", 2000)
    assert ack["paymentDueAt"] > 0
    assert seen(await watcher.changes(4)) == [("C1", "locked"), ("C2", "locked")] * 2
    rival = await running.client()
    taken = await rival.request("lock", showtimeId=showtime, seatIds=["C2"])
    assert (taken["code"], taken["conflictingSeats"]) == ("seat_unavailable", ["C2"])
    again = await buyer.request("book", showtimeId=showtime, seatIds=["C1"], customer=CUSTOMER)
    assert again["code"] == "not_lock_owner"  # a pending seat is the booking's, no longer a hold to book

    status, cancelled = await cancel(running, ack["bookingId"], buyer.token, "changed my mind")
    assert (status, cancelled["status"], cancelled["cancelReason"]) == (200, "cancelled", "changed my mind")
    changes = await watcher.changes(2)
    assert seen(changes) == [("C1", "unlocked"), ("C2", "unlocked")]
    assert {change["sessionId"] for change in changes} == {buyer.session_id}  # the buyer's seats, let go
    assert (await rival.request("lock", showtimeId=showtime, seatIds=["C2"]))["type"] == "ack"
    status, problem = await cancel(running, ack["bookingId"], buyer.token)
    assert (status, problem["code"]) == (409, "booking_cancelled")
    await audit(running.server.engine, showtime, webhooks=True)


async def test_a_book_without_payment_is_confirmed_at_once_as_before(start_server: StartServer) -> None:
    running = await start(start_server)
    showtime = await running.showtime()
    client = await running.client()
    await client.request("lock", showtimeId=showtime, seatIds=["A3"])
    ack = await client.request("book", showtimeId=showtime, seatIds=["A3"], customer=CUSTOMER)
    assert (ack["status"], ack["totalCents"], "paymentDueAt" in ack) == ("confirmed", 1500, False)
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert audited.events[ack["bookingId"]] == ["booking.confirmed"]


async def test_an_unpaid_booking_expires_once_and_a_late_payment_is_honoured_while_its_seats_are_free(
    start_server: StartServer,
) -> None:
    clock = ManualClock()
    running = await start(start_server, clock, hold_ttl_seconds=60)
    showtime = await running.showtime()
    watcher = await watch(running, showtime)
    _, booked = await book_pending(running, showtime, ["B1", "B2"])
    booking_id = booked["bookingId"]
    await watcher.changes(4)
    clock.advance(60_000 * 5)  # five hold TTLs: a pending booking does not lapse with holds
    await running.server.service.expire_lapsed()
    assert (await call(running, "GET", f"/api/bookings/{booking_id}", SHOP))[1]["status"] == "pending"
    clock.advance(PAYMENT_SECONDS * 1000 - 60_000 * 5)
    assert seen(await watcher.changes(2)) == [("B1", "unlocked"), ("B2", "unlocked")]
    _, expired = await call(running, "GET", f"/api/bookings/{booking_id}", SHOP)
    assert (expired["status"], expired["expiredAt"]) == ("expired", clock.now())
    assert [(t["status"], t["actor"]) for t in expired["transitions"]][-1] == ("expired", "system")

    status, paid = await confirm(running, booking_id)  # late, but nobody took the seats
    assert (status, paid["status"]) == (200, "confirmed")
    assert seen(await watcher.changes(2)) == [("B1", "booked"), ("B2", "booked")]
    assert watcher.drain() == []  # each change exactly once
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert audited.events[booking_id] == ["booking.pending", "booking.expired", "booking.confirmed"]


async def test_a_late_payment_for_seats_taken_since_is_refused_and_the_shop_is_told_to_refund(
    start_server: StartServer,
) -> None:
    clock = ManualClock()
    running = await start(start_server, clock)
    showtime = await running.showtime()
    _, booked = await book_pending(running, showtime, ["C5"])
    booking_id = booked["bookingId"]
    clock.advance(PAYMENT_SECONDS * 1000)
    await running.server.service.expire_lapsed()
    _, rival = await running.session()
    assert (await call(running, "POST", "/api/seat-locks", rival, json={"showtimeId": showtime, "seatIds": ["C5"]}))[
        0
    ] == 200
    status, problem = await confirm(running, booking_id, "pi_late")
    assert (status, problem["code"]) == (409, "booking_expired")
    assert "refund" in problem["message"]
    _, kept = await call(running, "GET", f"/api/bookings/{booking_id}", SHOP)
    assert (kept["status"], kept["paymentReference"]) == ("expired", "pi_late")
    assert (await confirm(running, booking_id, "pi_late"))[0] == 409  # told again: not recorded twice
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert audited.events[booking_id] == ["booking.pending", "booking.expired", "booking.late_payment"]
    assert audited.held == {"C5": rival.split(".")[0]}
    async with running.server.engine.connect() as conn:
        bodies = [row.body for row in await conn.execute(webhook_event.select()) if row.booking_id == booking_id]
    assert '"type":"booking.late_payment"' in bodies[-1]
    assert '"paymentReference":"pi_late"' in bodies[-1]


async def test_pending_bookings_survive_a_restart_and_still_expire(start_server: StartServer) -> None:
    clock = ManualClock()
    first = await start(start_server, clock)
    showtime = await first.showtime()
    _, booked = await book_pending(first, showtime, ["A4", "A5"])
    await first.server.stop()
    clock.advance(PAYMENT_SECONDS * 1000 - 1)

    second = await start(start_server, clock)
    watcher = await second.client()
    await watcher.request("subscribe", showtimeId=showtime)
    snapshot = await watcher.next_pushed("current_seat_status")
    assert (snapshot["lockedSeats"], snapshot["mySeats"]) == (["A4", "A5"], [])
    clock.advance(1)
    assert seen(await watcher.changes(2)) == [("A4", "unlocked"), ("A5", "unlocked")]
    assert (await call(second, "GET", f"/api/bookings/{booked['bookingId']}", SHOP))[1]["status"] == "expired"
    await audit(second.server.engine, showtime, webhooks=True)


async def test_the_shop_lists_exports_and_finds_bookings(start_server: StartServer) -> None:
    running = await start(start_server)
    showtime = await running.showtime()
    _, pending = await book_pending(running, showtime, ["A1"], orderReference="=HYPERLINK(1)")
    _, paid = await book_pending(running, showtime, ["A2"], orderReference="o-2")
    await confirm(running, paid["bookingId"])

    status, listed = await call(running, "GET", f"/api/admin/showtimes/{showtime}/bookings", SHOP)
    assert (status, [b["id"] for b in listed]) == (200, [pending["bookingId"], paid["bookingId"]])
    path = f"/api/admin/showtimes/{showtime}/bookings?status=confirmed"
    assert [b["id"] for b in (await call(running, "GET", path, SHOP))[1]] == [paid["bookingId"]]
    async with running.http.get(
        running.http_url + f"/api/admin/showtimes/{showtime}/bookings",
        headers={"Authorization": f"Bearer {SHOP}", "Accept": "text/csv"},
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        lines = (await response.text()).splitlines()
    assert lines[0].startswith("id,showtimeId,status,seatIds,totalCents,currency,customerName,customerEmail")
    assert len(lines) == 3
    assert lines[1].startswith(f"{pending['bookingId']},{showtime},pending,A1,1500,EUR,Ada Lovelace,ada@example.com")
    assert ",'=HYPERLINK(1)," in lines[1]  # a formula typed by a customer is defused
    found = await call(running, "GET", "/api/admin/bookings?orderReference=o-2", SHOP)
    assert [b["id"] for b in found[1]] == [paid["bookingId"]]
    found = await call(running, "GET", f"/api/admin/bookings?email=ada@example.com&showtimeId={showtime}", SHOP)
    assert len(found[1]) == 2


# --- bad input: every refusal typed, and nothing changed ---------------------------------------------------

# The booking the case acts on: none (an unknown id), or one of the buyer's in the state named. "taken": its seats
# were taken by another session after it became so. Who calls: the buyer, another buyer, the shop, or nobody.
BAD: list[tuple[str, str, str, str, str, Any, int, str]] = [
    ("confirm an unknown booking", "none", "shop", "POST", "confirm", {"paymentReference": "p", "provider": "x"}, 404, "not_found"),
    ("confirm as a buyer", "pending", "buyer", "POST", "confirm", {"paymentReference": "p", "provider": "x"}, 403, "forbidden"),
    ("confirm with no key", "pending", "nobody", "POST", "confirm", {"paymentReference": "p", "provider": "x"}, 401, "unauthorized"),
    ("confirm with no provider", "pending", "shop", "POST", "confirm", {"paymentReference": "p"}, 400, "invalid_message"),
    ("confirm with an empty reference", "pending", "shop", "POST", "confirm", {"paymentReference": "", "provider": "x"}, 400, "invalid_message"),
    ("confirm, a reference with NUL", "pending", "shop", "POST", "confirm", {"paymentReference": "p\x00", "provider": "x"}, 400, "invalid_message"),
    ("confirm paid with another payment", "confirmed", "shop", "POST", "confirm", {"paymentReference": "other", "provider": "x"}, 409, "booking_confirmed"),
    ("confirm expired, seats taken", "expired taken", "shop", "POST", "confirm", {"paymentReference": "p2", "provider": "x"}, 409, "booking_expired"),
    ("confirm cancelled, seats taken", "cancelled taken", "shop", "POST", "confirm", {"paymentReference": "p2", "provider": "x"}, 409, "booking_cancelled"),
    ("cancel an unknown booking", "none", "buyer", "POST", "cancel", {}, 404, "not_found"),
    ("cancel another session's booking", "pending", "stranger", "POST", "cancel", {}, 404, "not_found"),
    ("cancel with no token", "pending", "nobody", "POST", "cancel", {}, 401, "unauthorized"),
    ("cancel a confirmed booking as its buyer", "confirmed", "buyer", "POST", "cancel", {}, 409, "booking_confirmed"),
    ("cancel a cancelled booking", "cancelled", "buyer", "POST", "cancel", {}, 409, "booking_cancelled"),
    ("cancel a cancelled booking as the shop", "cancelled", "shop", "POST", "cancel", {}, 409, "booking_cancelled"),
    ("cancel an expired booking", "expired", "buyer", "POST", "cancel", {}, 409, "booking_expired"),
    ("cancel an expired booking as the shop", "expired", "shop", "POST", "cancel", {}, 409, "booking_expired"),
    ("cancel with a reason too long", "pending", "buyer", "POST", "cancel", {"reason": "x" * 2001}, 400, "invalid_message"),
    ("cancel with no body", "pending", "buyer", "POST", "cancel", None, 400, "invalid_message"),
    ("cancel with a reason not text", "pending", "buyer", "POST", "cancel", {"reason": 5}, 400, "invalid_message"),
    ("read another session's booking", "pending", "stranger", "GET", "", None, 404, "not_found"),
    ("read with no token", "pending", "nobody", "GET", "", None, 401, "unauthorized"),
    ("cancel via GET", "pending", "buyer", "GET", "cancel", None, 405, "method_not_allowed"),
]  # fmt: skip


async def a_booking(running: Running, clock: ManualClock, showtime: str, state: str) -> tuple[str, str]:
    """The buyer's token and a booking of A1 in ``state`` ("none": an id that names nothing)."""
    token, booked = await book_pending(running, showtime, ["A1"])
    booking_id = booked["bookingId"]
    if state.startswith("confirmed"):
        assert (await confirm(running, booking_id, "p"))[0] == 200
    if state.startswith("cancelled"):
        assert (await cancel(running, booking_id, token))[0] == 200
    if state.startswith("expired"):
        clock.advance(PAYMENT_SECONDS * 1000)
        await running.server.service.expire_lapsed()
    if state.endswith("taken"):
        _, rival = await running.session()
        assert (
            await call(running, "POST", "/api/seat-locks", rival, json={"showtimeId": showtime, "seatIds": ["A1"]})
        )[0] == 200
    return token, "bk_nope" if state == "none" else booking_id


@pytest.mark.parametrize(
    ("state", "who", "method", "action", "body", "status", "code"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
async def test_bad_checkout_requests_are_refused_with_their_code_and_change_nothing(
    start_server: StartServer, state: str, who: str, method: str, action: str, body: Any, status: int, code: str
) -> None:
    clock = ManualClock()
    running = await start(start_server, clock)
    showtime = await running.showtime()
    buyer, booking_id = await a_booking(running, clock, showtime, state)
    token = {"buyer": buyer, "stranger": (await running.session())[1], "shop": SHOP, "nobody": None}[who]
    path = f"/api/bookings/{booking_id}" + (f"/{action}" if action else "")
    before = (
        await audit(running.server.engine, showtime, webhooks=True),
        await call(running, "GET", f"/api/showtimes/{showtime}"),
    )

    got = await call(running, method, path, token, **({} if body is None else {"json": body}))

    assert (got[0], got[1]["code"]) == (status, code), got
    assert got[1]["message"]
    after = (
        await audit(running.server.engine, showtime, webhooks=True),
        await call(running, "GET", f"/api/showtimes/{showtime}"),
    )
    if state.endswith("taken") and action == "confirm":  # refused, and the late payment recorded for a refund
        before[0].histories[booking_id].append(before[0].statuses[booking_id])
        before[0].events[booking_id].append("booking.late_payment")
    assert after == before


async def test_the_demo_pays_through_its_own_endpoint_only_with_demo_data(start_server: StartServer) -> None:
    plain = await start(start_server)
    assert (await call(plain, "GET", "/api/config"))[1]["demoPayments"] is False
    status, problem = await call(plain, "POST", "/api/demo/bookings/bk_nope/pay", SHOP)
    assert (status, problem["code"]) == (404, "not_found")

    demo = await start(start_server, demo_data=True)
    assert (await call(demo, "GET", "/api/config"))[1]["demoPayments"] is True
    showtime = await demo.showtime()
    token, booked = await book_pending(demo, showtime, ["B3"])
    path = f"/bookings/{booked['bookingId']}"
    _, stranger = await demo.session()
    status, problem = await call(demo, "POST", f"/api/demo{path}/pay", stranger)
    assert (status, problem["code"], problem["message"]) == (404, "not_found", "no such booking for this session")
    status, paid = await call(demo, "POST", f"/api/demo{path}/pay", token)
    assert status == 200, paid
    assert (paid["status"], paid["provider"]) == ("confirmed", "demo")
    assert paid["paymentReference"].startswith("demo_")
    status, again = await call(demo, "POST", f"/api/demo{path}/pay", token)
    assert (status, again["code"]) == (409, "booking_confirmed")
    await audit(demo.server.engine, showtime, webhooks=True)
