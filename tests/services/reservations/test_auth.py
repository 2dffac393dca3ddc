import pytest

from tests.services.reservations.conftest import COMPONENT, hold_body, stay
from tests.support.tokens import assert_refuses_bad_tokens

ROUTES = [
    ("POST", "/holds", "reservations:write", {"json": hold_body("b1")}),
    ("GET", "/holds/h1", "reservations:read", {}),
    ("POST", "/holds/h1/release", "reservations:write", {}),
    ("POST", "/holds/h1/confirm", "reservations:write", {}),
    ("GET", "/reservations", "reservations:read", {}),
    ("GET", "/reservations/r1", "reservations:read", {}),
    ("POST", "/reservations/r1/cancel", "reservations:write", {}),
    ("GET", "/availability", "reservations:read", {"params": {"hotel_id": 1, "guests": 1}}),
    (
        "POST",
        "/availability/batch",
        "reservations:read",
        {"json": {"hotel_ids": [1], "guests": 1, **stay()}},
    ),
    (
        "POST",
        "/availability/searches",
        "reservations:read",
        {"json": {"searches": [{"hotel_ids": [1], "guests": 1, **stay()}]}},
    ),
    ("PUT", "/inventory/11", "reservations:admin", {"json": {"total_rooms": 1}}),
]


@pytest.mark.parametrize(("method", "path", "scope", "request_args"), ROUTES)
async def test_every_route_refuses_bad_tokens(reservations, method, path, scope, request_args):
    await assert_refuses_bad_tokens(
        reservations.client,
        reservations.issuer,
        method,
        path,
        scope,
        COMPONENT,
        **request_args,
    )


async def test_openapi_documents_every_route_with_its_scope(reservations):
    document = (await reservations.client.get("/openapi.json")).json()
    for method, path, scope, _ in ROUTES:
        openapi_path = path.replace("h1", "{hold_id}").replace("r1", "{reservation_id}")
        openapi_path = openapi_path.replace("/11", "/{room_type_id}")
        operation = document["paths"][openapi_path][method.lower()]
        assert operation["security"] == [{"bearer": [scope]}]
