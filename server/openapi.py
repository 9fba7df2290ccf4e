"""The OpenAPI 3.1 document, generated from the REST endpoint table and the pydantic models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.core.errors import ErrorCode
from server.messages import MAX_IDEMPOTENCY_KEY_LENGTH, PRINTABLE, Problem
from server.rejections import STATUS_OF

__all__ = ["Endpoint", "openapi_document"]

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[H]):
    """One REST operation: how it is served (``handler``) and everything the document says of it."""

    method: str
    path: str
    summary: str
    handler: H
    response: type[BaseModel] | None  # None: not JSON (the demo page)
    status: HTTPStatus = HTTPStatus.OK
    body: type[BaseModel] | None = None
    authenticated: bool = False  # a buyer's session token
    admin: bool = False  # the operator's key (with ``authenticated``: either)
    many: bool = False  # the response is a JSON array of ``response``
    csv: bool = False  # also text/csv, to a client that accepts it
    errors: tuple[ErrorCode, ...] = ()
    query: tuple[str, ...] = ()  # optional query parameters
    # Takes an Idempotency-Key header: the same key and request again get the first answer, and nothing is redone.
    idempotent: bool = False
    # What generated clients name the call (lockSeats) and the group they put it in (one of TAGS).
    operation_id: str = field(kw_only=True)
    tag: str = field(kw_only=True)


REF = "#/components/schemas/{model}"
BODY_ERRORS = (ErrorCode.INVALID_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE)
KEY_ERRORS = (ErrorCode.INVALID_MESSAGE, ErrorCode.IDEMPOTENCY_KEY_REUSED, ErrorCode.IDEMPOTENCY_KEY_IN_USE)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Names this request for retries, in the caller's scope (its session, or the operator's key), for "
        "IDEMPOTENCY_TTL_SECONDS: the same key with the same request gets the first answer again (status and "
        "body, with Idempotent-Replayed: true) and changes nothing; with another request it is refused "
        "(idempotency_key_reused); while the first is still being answered, a retry waits for its answer "
        "(idempotency_key_in_use if none comes within 10 s)"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH, "pattern": PRINTABLE},
}
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when this is the kept answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
TAGS = {
    "sessions": "Buyer sessions: the bearer token that changing calls need",
    "seats": "Holding and releasing seats",
    "bookings": "Turning held seats into bookings",
    "showtimes": "Showtimes and their seat maps",
    "operations": "Health, readiness, and where clients find the WebSocket",
    "admin": "The operator's: layouts, showtimes, blocked seats, sales figures and webhook deliveries (ADMIN_API_KEY)",
}
SECURITY_SCHEMES = {
    "sessionToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A buyer's session token, from POST /api/sessions or the socket's connection_established",
    },
    "adminKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator's key (ADMIN_API_KEY), for the admin calls; a buyer's token gets 403 there",
    },
}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'Bearer, with error="invalid_token" when the token sent is invalid or expired (RFC 6750)',
        "schema": {"type": "string"},
    }
}


def openapi_document(endpoints: Iterable[Endpoint[Any]]) -> dict[str, Any]:
    endpoints = list(endpoints)
    models = {Problem} | {m for e in endpoints for m in (e.body, e.response) if m is not None}
    _, schemas = models_json_schema(
        [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)],
        by_alias=True,
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Seat reservation server", "version": "1.0.0"},
        "tags": [{"name": name, "description": description} for name, description in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(endpoint: Endpoint[Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": endpoint.status.phrase}
    if endpoint.idempotent:
        response["headers"] = REPLAYED
    if endpoint.response is not None:
        schema: dict[str, Any] = {"$ref": REF.format(model=endpoint.response.__name__)}
        if endpoint.many:
            schema = {"type": "array", "items": schema}
        response["content"] = {"application/json": {"schema": schema}}
        if endpoint.csv:
            response["content"]["text/csv"] = {"schema": {"type": "string"}}
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "tags": [endpoint.tag],
        "summary": endpoint.summary,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(endpoint.path)
        ]
        + [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in endpoint.query]
        + ([IDEMPOTENCY_KEY] if endpoint.idempotent else []),
        "responses": {str(int(endpoint.status)): response, **_problems(endpoint)},
    }
    if endpoint.body is not None:
        body_schema = {"$ref": REF.format(model=endpoint.body.__name__)}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    # Either of the two where both are named: a buyer's token or the operator's key.
    schemes: list[dict[str, list[str]]] = [{"sessionToken": []}] * endpoint.authenticated
    schemes += [{"adminKey": []}] * endpoint.admin
    if schemes:
        operation["security"] = schemes
    return operation


def _problems(endpoint: Endpoint[Any]) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    codes = list(endpoint.errors)
    if endpoint.body is not None:  # any body may be malformed or too large
        codes += [code for code in BODY_ERRORS if code not in codes]
    if endpoint.idempotent:  # a malformed key, one used for another request, one whose answer is not ready
        codes += [code for code in KEY_ERRORS if code not in codes]
    statuses = sorted({STATUS_OF[code] for code in codes})
    return {
        str(int(status)): {
            "description": ", ".join(code.value for code in codes if STATUS_OF[code] == status),
            **({"headers": CHALLENGE} if status == HTTPStatus.UNAUTHORIZED else {}),
            "content": problem,
        }
        for status in statuses
    }


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
