"""The OpenAPI document, generated from an endpoint table: paths, bodies, problems by status, security."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from server.core.errors import ErrorCode
from server.messages import Ack, BookingView, SeatsRequest, ShowtimeSummary
from server.openapi import Endpoint, openapi_document

TABLE: tuple[Endpoint[None], ...] = (
    Endpoint("GET", "/things", "All things", None, ShowtimeSummary, many=True),
    Endpoint(
        "GET", "/things/{thing_id}/parts/{part_id}", "One part", None, BookingView,
        authenticated=True, errors=(ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND, ErrorCode.UNKNOWN_SHOWTIME),
    ),
    Endpoint(
        "POST", "/things", "Make a thing", None, Ack, HTTPStatus.CREATED,
        body=SeatsRequest, errors=(ErrorCode.SEAT_UNAVAILABLE, ErrorCode.INVALID_MESSAGE),
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
    assert part["responses"]["401"] == problem("unauthorized")
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
