"""The OpenAPI document of the endpoint table: what client generators need to name and group the calls."""

from __future__ import annotations

from typing import Any

from server.http import ENDPOINTS
from server.openapi import openapi_document

DOCUMENT = openapi_document(ENDPOINTS)
OPERATIONS: list[dict[str, Any]] = [operation for path in DOCUMENT["paths"].values() for operation in path.values()]


def test_every_operation_has_its_own_id() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS]
    assert len(ids) == len(set(ids)) == len(ENDPOINTS)
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
            assert operation["security"] == [{"sessionToken": []}]
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert {schemes[name]["scheme"] for name in ("sessionToken", "adminKey")} == {"bearer"}
