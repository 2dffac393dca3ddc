import datetime as dt

import pytest

from services.reservations.api import MAX_SEARCHES_PER_CALL
from tests.services.reservations.conftest import hold_body, rooms_left, start, stay
from tests.support.harness import eventually, problem_field


async def test_hold_prices_every_night_and_takes_one_room(reservations):
    r = reservations
    response = await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    assert response.status_code == 201, response.text
    hold = response.json()
    assert hold["status"] == "held"
    assert [n["price"] for n in hold["nights"]] == [10_000, 10_000]
    assert hold["total"] == 20_000 and hold["currency"] == "EUR"
    expires = dt.datetime.fromisoformat(hold["expires_at"])
    assert 800 < (expires - dt.datetime.now(dt.UTC)).total_seconds() <= 900
    assert await rooms_left(r) == 4


async def test_a_hold_comes_with_the_hotels_terms(reservations):
    r = reservations
    response = await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    assert response.json()["terms"] == {
        "free_cancellation_hours": 48,
        "tax_rate_percent": 10,
        "check_in_time": "14:00:00",
        "check_out_time": "11:00:00",
    }


async def test_a_stays_availability_carries_the_terms_its_hold_would(reservations):
    r = reservations
    params = {"hotel_id": 1, "guests": 1, **stay()}
    shown = await r.client.get("/availability", params=params, headers=r.service())
    held = await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    assert shown.status_code == 200, shown.text
    assert shown.json()["terms"] == held.json()["terms"]


async def test_same_booking_replays_the_hold_and_another_body_is_refused(reservations):
    r = reservations
    first = (await r.client.post("/holds", json=hold_body("b1"), headers=r.service())).json()
    again = await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    assert again.status_code == 200
    assert again.json()["hold_id"] == first["hold_id"]
    assert await rooms_left(r) == 4
    other = await r.client.post("/holds", json=hold_body("b1", guests=1), headers=r.service())
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-mismatch")


async def test_second_hold_on_last_room_is_refused(reservations):
    r = reservations
    response = await r.client.put("/inventory/11", json={"total_rooms": 1}, headers=r.admin())
    assert response.json()["total_rooms"] == 1
    assert (await r.client.post("/holds", json=hold_body("a"), headers=r.service())).is_success
    late = await r.client.post("/holds", json=hold_body("b"), headers=r.service())
    assert late.status_code == 409
    assert late.json()["type"].endswith("/sold-out")
    # A stay overlapping by one night is refused too; one just after is not.
    overlapping = hold_body("c", **stay(offset=11, nights=3))
    assert (await r.client.post("/holds", json=overlapping, headers=r.service())).status_code == 409
    after = hold_body("d", **stay(offset=12, nights=3))
    assert (await r.client.post("/holds", json=after, headers=r.service())).status_code == 201


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"hotel_id": 999}, 404, "hotel_id"),
        ({"room_type_id": 21}, 404, "room_type_id"),
        ({"room_type_id": 999}, 404, "room_type_id"),
        ({"guests": 3}, 422, "guests"),
        ({"guests": 0}, 422, "guests"),
        ({**stay(offset=-3)}, 422, "check_in"),
        ({**stay(offset=400)}, 422, "check_in"),
        ({**stay(nights=0)}, 422, "check_out"),
        ({**stay(nights=31)}, 422, "check_out"),
        ({"check_in": "2026-02-30"}, 422, "check_in"),
        ({"booking_id": ""}, 422, "booking_id"),
        ({"hotel_id": 2**63}, 422, "hotel_id"),
        ({"room_type_id": 2**63}, 422, "room_type_id"),
    ],
)
async def test_bad_hold_requests_name_the_field(reservations, changes, status, field):
    r = reservations
    response = await r.client.post(
        "/holds", json={**hold_body("x"), **changes}, headers=r.service()
    )
    assert response.status_code == status, response.text
    assert problem_field(response) == field


async def test_a_traveller_holds_only_for_themselves(reservations):
    r = reservations
    headers = r.user("user-2", "reservations:write")
    response = await r.client.post("/holds", json=hold_body("x"), headers=headers)
    assert response.status_code == 403
    assert problem_field(response) == "user_id"


async def test_release_gives_the_room_back_and_is_idempotent(reservations):
    r = reservations
    hold = (await r.client.post("/holds", json=hold_body("b1"), headers=r.service())).json()
    for _ in range(2):
        response = await r.client.post(f"/holds/{hold['hold_id']}/release", headers=r.service())
        assert response.status_code == 200
        assert response.json()["status"] == "released"
    assert await rooms_left(r) == 5
    refused = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/hold-released")


async def test_confirm_makes_a_reservation_once_and_cancel_returns_the_nights(reservations):
    r = reservations
    hold = (await r.client.post("/holds", json=hold_body("b1"), headers=r.service())).json()
    first = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    assert first.status_code == 200, first.text
    reservation = first.json()
    assert reservation["status"] == "confirmed"
    code = reservation["confirmation_code"]
    assert len(code) == 8 and not set(code) & set("0O1IL2Z5S8B")
    assert reservation["total"] == hold["total"] and reservation["booking_id"] == "b1"
    again = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    assert again.json() == reservation
    assert await rooms_left(r) == 4
    shown = await r.client.get(f"/holds/{hold['hold_id']}", headers=r.service())
    assert shown.json()["status"] == "confirmed"
    path = f"/reservations/{reservation['reservation_id']}/cancel"
    for _ in range(2):
        cancelled = await r.client.post(path, headers=r.service())
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
    assert await rooms_left(r) == 5


async def test_unknown_hold_and_reservation_are_404(reservations):
    r = reservations
    for method, path in [
        ("GET", "/holds/nope"),
        ("POST", "/holds/nope/release"),
        ("POST", "/holds/nope/confirm"),
        ("GET", "/reservations/nope"),
        ("POST", "/reservations/nope/cancel"),
    ]:
        response = await r.client.request(method, path, headers=r.service())
        assert response.status_code == 404, path


async def test_travellers_see_only_their_own_reservations(reservations):
    r = reservations
    mine = (await r.client.post("/holds", json=hold_body("b1"), headers=r.service())).json()
    theirs = (
        await r.client.post("/holds", json=hold_body("b2", user_id="user-2"), headers=r.service())
    ).json()
    for hold in (mine, theirs):
        await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    listed = (await r.client.get("/reservations", headers=r.user("user-1"))).json()["items"]
    assert [x["booking_id"] for x in listed] == ["b1"]
    other_id = (await r.client.get("/reservations", headers=r.service())).json()["items"]
    other_id = next(x["reservation_id"] for x in other_id if x["user_id"] == "user-2")
    response = await r.client.get(f"/reservations/{other_id}", headers=r.user("user-1"))
    assert response.status_code == 404
    response = await r.client.get(f"/holds/{theirs['hold_id']}", headers=r.user("user-1"))
    assert response.status_code == 404
    response = await r.client.get(f"/reservations/{other_id}", headers=r.user("user-2"))
    assert response.status_code == 200
    everyone = await r.client.get("/reservations", headers=r.service())
    assert len(everyone.json()["items"]) == 2


async def test_expired_hold_gives_its_room_back_by_itself(database_url, tmp_path):
    async with start(database_url, tmp_path, ttl=1) as r:
        hold = (await r.client.post("/holds", json=hold_body("b1"), headers=r.service())).json()
        assert await rooms_left(r) == 4

        async def swept() -> None:
            shown = await r.client.get(f"/holds/{hold['hold_id']}", headers=r.service())
            assert shown.json()["status"] == "expired"
            assert await rooms_left(r) == 5

        await eventually(swept, timeout=20)
        refused = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("/hold-expired")


async def test_batch_availability_answers_every_hotel_asked(reservations):
    r = reservations
    await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    body = {"hotel_ids": [2, 1, 7], "guests": 2, **stay()}
    response = await r.client.post("/availability/batch", json=body, headers=r.service())
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["hotel_id"] for i in items] == [2, 1, 7]
    assert items[2]["room_types"] == []
    hotel1 = {t["room_type_id"]: t for t in items[1]["room_types"]}
    assert hotel1[11]["rooms_left"] == 4 and hotel1[11]["total"] == 20_000
    assert hotel1[12]["rooms_left"] == 2
    four = (
        await r.client.post("/availability/batch", json={**body, "guests": 4}, headers=r.service())
    ).json()
    assert [t["room_type_id"] for t in four["items"][1]["room_types"]] == [12]


async def test_best_only_lists_each_hotels_cheapest_room_type_with_a_room_left(reservations):
    r = reservations
    body = {"hotel_ids": [1, 7], "guests": 2, "best_only": True, **stay()}
    first = (await r.client.post("/availability/batch", json=body, headers=r.service())).json()
    assert [t["room_type_id"] for t in first["items"][0]["room_types"]] == [11]
    assert first["items"][1]["room_types"] == []
    for n in range(5):  # every room of type 11, the cheaper one, for the same nights
        held = await r.client.post("/holds", json=hold_body(f"b{n}"), headers=r.service())
        assert held.status_code == 201, held.text
    then = (await r.client.post("/availability/batch", json=body, headers=r.service())).json()
    (best,) = then["items"][0]["room_types"]
    assert best["room_type_id"] == 12 and best["rooms_left"] == 2 and best["total"] == 40_000


async def test_searches_in_one_call_get_what_each_would_get_alone(reservations):
    r = reservations
    await r.client.post("/holds", json=hold_body("b1"), headers=r.service())
    searches = [
        {"hotel_ids": [2, 1, 7], "guests": 2, **stay()},
        {"hotel_ids": [1], "guests": 4, "best_only": True, **stay(nights=3)},
        {"hotel_ids": [7, 1], "guests": 1, "best_only": True, **stay()},
    ]
    response = await r.client.post(
        "/availability/searches", json={"searches": searches}, headers=r.service()
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(searches)
    for search, result in zip(searches, results, strict=True):
        alone = await r.client.post("/availability/batch", json=search, headers=r.service())
        assert result == {"status": 200, "body": alone.json()}
    assert results[0]["body"]["items"][1]["room_types"][0]["rooms_left"] == 4


async def test_one_bad_search_gets_its_own_problem_and_the_others_their_answers(reservations):
    r = reservations
    good = {"hotel_ids": [1], "guests": 2, **stay()}
    searches = [
        good,
        {**good, **stay(nights=0)},  # check_out on check_in
        {**good, "guests": 0},
        {**good, "rooms": 2},
    ]
    response = await r.client.post(
        "/availability/searches", json={"searches": searches}, headers=r.service()
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [x["status"] for x in results] == [200, 422, 422, 422]
    assert [x["body"].get("field") for x in results[1:]] == ["check_out", "guests", "rooms"]
    assert all(x["body"]["type"].endswith("/validation-error") for x in results[1:])
    assert results[0]["body"]["items"][0]["room_types"]


async def test_a_call_without_searches_or_with_too_many_is_422(reservations):
    r = reservations
    one = {"hotel_ids": [1], "guests": 2, **stay()}
    for body, field in (
        ({"searches": []}, "searches"),
        ({"searches": [one] * (MAX_SEARCHES_PER_CALL + 1)}, "searches"),
        ({"searches": [one], "more": 1}, "more"),
        ({"searches": [3]}, "searches.0"),
    ):
        response = await r.client.post("/availability/searches", json=body, headers=r.service())
        assert response.status_code == 422, body
        assert problem_field(response) == field


async def test_availability_refuses_bad_stays_naming_the_field(reservations):
    r = reservations
    params = {"hotel_id": 1, "guests": 1, **stay(nights=0)}
    response = await r.client.get("/availability", params=params, headers=r.service())
    assert response.status_code == 400
    assert problem_field(response) == "check_out"


async def test_a_batch_with_a_bad_best_only_is_422_naming_it(reservations):
    r = reservations
    body = {"hotel_ids": [1], "guests": 2, "best_only": "cheapest", **stay()}
    response = await r.client.post("/availability/batch", json=body, headers=r.service())
    assert response.status_code == 422
    assert problem_field(response) == "best_only"


async def test_inventory_change_of_unknown_room_type_is_404(reservations):
    r = reservations
    response = await r.client.put("/inventory/999", json={"total_rooms": 3}, headers=r.admin())
    assert response.status_code == 404


# "²" passes `str.isdigit()` but breaks `int()`; "١١" (Arabic-Indic) would read as 11.
@pytest.mark.parametrize("raw", ["%C2%B2", "%D9%A1%D9%A1"])
async def test_an_inventory_room_type_in_digits_other_than_0_to_9_is_400(reservations, raw):
    r = reservations
    response = await r.client.put(f"/inventory/{raw}", json={"total_rooms": 1}, headers=r.admin())
    assert response.status_code == 400, response.text
    assert problem_field(response) == "room_type_id"
    assert await rooms_left(r) == 5


async def test_availability_refuses_a_hotel_id_past_the_databases_integers(reservations):
    r = reservations
    params = {"hotel_id": 2**63, "guests": 1, **stay()}
    response = await r.client.get("/availability", params=params, headers=r.service())
    assert response.status_code == 400, response.text
    assert problem_field(response) == "hotel_id"
    body = {"hotel_ids": [1, 2**63], "guests": 1, **stay()}
    response = await r.client.post("/availability/batch", json=body, headers=r.service())
    assert response.status_code == 422, response.text
    assert problem_field(response) == "hotel_ids.1"


@pytest.mark.parametrize("rate", ["12000", True, 12_000.0, 2**63])
async def test_an_inventory_rate_that_is_not_a_whole_amount_is_422(reservations, rate):
    r = reservations
    body = {"nightly_rate": rate}
    response = await r.client.put("/inventory/11", json=body, headers=r.admin())
    assert response.status_code == 422, response.text
    assert problem_field(response) == "nightly_rate"
