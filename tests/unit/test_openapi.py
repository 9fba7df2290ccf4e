"""The OpenAPI document: built from an endpoint table (paths, bodies, problems by status, security), and for
the served table what client generators need to name and group the calls."""

from __future__ import annotations

import dataclasses
from http import HTTPStatus
from typing import Any

from server.admin_http import ADMIN_ENDPOINTS
from server.core.errors import ErrorCode
from server.http import ENDPOINTS
from server.messages import Ack, BookingView, SeatsRequest, ShowtimeSummary
from server.openapi import Endpoint, openapi_document

TABLE: tuple[Endpoint[None], ...] = (
    Endpoint("GET", "/things", "All things", None, ShowtimeSummary, many=True, operation_id="listThings", tag="seats"),
    Endpoint(
        "GET", "/things/{thing_id}/parts/{part_id}", "One part", None, BookingView,
        authenticated=True, errors=(ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND, ErrorCode.UNKNOWN_SHOWTIME),
        operation_id="getPart", tag="seats",
    ),
    Endpoint(
        "POST", "/things", "Make a thing", None, Ack, HTTPStatus.CREATED,
        body=SeatsRequest, errors=(ErrorCode.SEAT_UNAVAILABLE, ErrorCode.INVALID_MESSAGE),
        operation_id="makeThing", tag="seats",
    ),
)  # fmt: skip

REF = "#/components/schemas/{}"


def problem(description: str) -> dict[str, Any]:
    content = {"application/problem+json": {"schema": {"$ref": REF.format("Problem")}}}
    return {"description": description, "content": content}


def test_the_document_lists_each_operation_under_its_path() -> None:
    document = openapi_document(TABLE)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/things", "/things/{thing_id}/parts/{part_id}"}
    assert set(document["paths"]["/things"]) == {"get", "post"}
    listing = document["paths"]["/things"]["get"]
    assert listing["responses"] == {
        "200": {
            "description": "OK",
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"$ref": REF.format("ShowtimeSummary")}}}
            },
        }
    }
    assert "security" not in listing
    assert "requestBody" not in listing


def test_path_parameters_security_and_problems_grouped_by_status() -> None:
    part = openapi_document(TABLE)["paths"]["/things/{thing_id}/parts/{part_id}"]["get"]
    assert [p["name"] for p in part["parameters"]] == ["thing_id", "part_id"]
    assert part["security"] == [{"sessionToken": []}]
    challenge = part["responses"]["401"].pop("headers")
    assert part["responses"]["401"] == problem("unauthorized")
    assert set(challenge) == {"WWW-Authenticate"}
    assert part["responses"]["404"] == problem("not_found, unknown_showtime")


def test_a_body_brings_its_schema_and_the_errors_any_body_may_cause() -> None:
    create = openapi_document(TABLE)["paths"]["/things"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": REF.format("SeatsRequest")}
    assert set(create["responses"]) == {"201", "400", "409", "413"}
    assert create["responses"]["400"] == problem("invalid_message")  # listed once though named twice
    assert create["responses"]["413"] == problem("message_too_large")


def test_every_referenced_model_is_a_component_with_wire_names() -> None:
    schemas = openapi_document(TABLE)["components"]["schemas"]
    assert {"ShowtimeSummary", "BookingView", "Ack", "SeatsRequest", "Problem", "Customer"} <= set(schemas)
    assert {"showtimeId", "seatIds"} <= set(schemas["SeatsRequest"]["properties"])
    assert "showtime_id" not in schemas["SeatsRequest"]["properties"]


SERVED: tuple[Endpoint[Any], ...] = (*ENDPOINTS, *ADMIN_ENDPOINTS)
DOCUMENT = openapi_document(SERVED)
OPERATIONS: list[dict[str, Any]] = [operation for path in DOCUMENT["paths"].values() for operation in path.values()]


def test_every_operation_has_its_own_id() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS]
    assert len(ids) == len(set(ids)) == len(SERVED)
    assert {"lockSeats", "unlockSeats", "createBooking", "getBooking", "createSession"} <= set(ids)


def test_every_operation_has_a_declared_tag() -> None:
    declared = {tag["name"] for tag in DOCUMENT["tags"]}
    used = {tag for operation in OPERATIONS for tag in operation["tags"]}
    assert used == declared  # no operation outside the tags, and no tag without an operation


def test_authenticated_operations_name_the_buyer_token_and_document_the_challenge() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    for operation in OPERATIONS:
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes)
        if "401" in operation["responses"]:
            assert operation["security"] in ([{"sessionToken": []}], [{"adminKey": []}], EITHER)
            assert ("admin" in operation["tags"]) <= (operation["security"] == [{"adminKey": []}])
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert {schemes[name]["scheme"] for name in ("sessionToken", "adminKey")} == {"bearer"}


EITHER: list[dict[str, list[str]]] = [
    {"sessionToken": []},
    {"adminKey": []},
]  # OpenAPI: any one of the requirements listed


def test_a_booking_is_read_and_cancelled_by_its_buyer_or_the_shop_and_confirmed_by_the_shop_alone() -> None:
    bookings = {operation["operationId"]: operation for operation in OPERATIONS if "bookings" in operation["tags"]}
    assert bookings["getBooking"]["security"] == bookings["cancelBooking"]["security"] == EITHER
    assert bookings["confirmBooking"]["security"] == [{"adminKey": []}]
    for name in ("confirmBooking", "cancelBooking"):
        assert {"404", "409"} <= set(bookings[name]["responses"])
        assert set(bookings[name]["responses"]["409"]["description"].split(", ")) >= {
            "booking_expired", "booking_cancelled", "booking_confirmed",
        }  # fmt: skip
    export = DOCUMENT["paths"]["/api/admin/showtimes/{showtime_id}/bookings"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/json", "text/csv"}


def test_admin_operations_need_the_operator_key_and_refuse_buyers() -> None:
    admin = [operation for operation in OPERATIONS if "admin" in operation["tags"]]
    assert len(admin) == len([endpoint for endpoint in ADMIN_ENDPOINTS if endpoint.tag == "admin"])
    for operation in admin:
        assert operation["security"] == [{"adminKey": []}]
        assert {"401", "403"} <= set(operation["responses"])
    query = DOCUMENT["paths"]["/api/admin/layouts"]["post"]["parameters"]
    assert {(p["name"], p["in"]) for p in query} == {
        ("format", "query"), ("venueId", "query"), ("venueName", "query"), ("hallId", "query"), ("hallName", "query"),
    }  # fmt: skip


def test_an_idempotent_operation_documents_the_key_its_errors_and_the_replay_header() -> None:
    keyed = dataclasses.replace(TABLE[2], idempotent=True)
    create = openapi_document((keyed,))["paths"]["/things"]["post"]
    header = create["parameters"][-1]
    assert (header["name"], header["in"], header["required"]) == ("Idempotency-Key", "header", False)
    assert header["schema"]["maxLength"] == 255
    assert set(create["responses"]) == {"201", "400", "409", "413", "422"}
    assert create["responses"]["409"] == problem("seat_unavailable, idempotency_key_in_use")
    assert create["responses"]["422"] == problem("idempotency_key_reused")
    assert set(create["responses"]["201"]["headers"]) == {"Idempotent-Replayed"}
    plain = openapi_document(TABLE)["paths"]["/things"]["post"]
    assert plain["parameters"] == []
    assert "headers" not in plain["responses"]["201"]


def test_the_changes_a_buyer_may_retry_take_an_idempotency_key() -> None:
    keyed = {
        operation["operationId"]
        for operation in OPERATIONS
        if any(parameter["name"] == "Idempotency-Key" for parameter in operation["parameters"])
    }
    assert keyed == {"lockSeats", "unlockSeats", "createBooking", "confirmBooking", "cancelBooking"}
