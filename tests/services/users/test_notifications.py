from datetime import UTC, datetime

import sqlalchemy as sa

from services.users import api
from services.users.mails import policy_text
from services.users.tables import outbox
from tests.services.users.conftest import users_world
from tests.support.harness import eventually, problem_field
from tests.support.mailsink import running_sink
from tests.support.tokens import TestIssuer, bearer

RECEIPT = {
    "hotel_name": "Grand Hotel Paris",
    "hotel_address": "12 Rue de Rivoli, Paris, France",
    "guest_name": "Zoë Traveller",
    "check_in": "2027-03-01",
    "check_out": "2027-03-03",
    "nights": [{"night": "2027-03-01", "price": 12899}, {"night": "2027-03-02", "price": 13899}],
    "taxes": 2678,
    "total": 29476,
    "currency": "EUR",
    "payment_reference": "pay_7f3a9c",
    "confirmation_code": "SG-7K4Q-92XD",
}
MAIL_DATA = {
    "hotel_name": "Grand Hotel Paris",
    "check_in": "2027-03-01",
    "check_out": "2027-03-03",
    "confirmation_code": "SG-7K4Q-92XD",
    "total": 29476,
    "currency": "EUR",
}


async def _receipt(world, owner: str) -> str:
    token = world.issuer.service_token("worker-documents", "documents:render", "pdf")
    response = await world.pdf.post(
        "/documents",
        json={"template": "receipt", "data": RECEIPT, "owner_id": owner, "key": f"r-{owner}"},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _notify(world, user_id: str, **body):
    return await world.client.post(
        f"/users/{user_id}/messages", json=body, headers=world.notifier()
    )


async def test_confirmation_mail_arrives_with_the_receipt_attached_once(world, sink):
    user = await world.register("guest@example.com")
    document_id = await _receipt(world, user["id"])
    body = {
        "template": "booking-confirmed",
        "data": MAIL_DATA,
        "attachments": [{"document_id": document_id, "filename": "receipt-SG-7K4Q-92XD.pdf"}],
        "message_key": "booking-42.confirmed",
    }
    first = await _notify(world, user["id"], **body)
    assert first.status_code == 202, first.text
    queued = first.json()
    assert queued["message_key"] == "booking-42.confirmed"

    _, mail = await sink.wait_for("guest@example.com", count=2)
    assert mail["subject"] == "Booking confirmed: Grand Hotel Paris, 2027-03-01"
    assert mail["message_id"] == "<booking-42.confirmed@staysaga.local>"
    assert "SG-7K4Q-92XD" in mail["text"] and "294.76 EUR" in mail["text"]
    assert "SG-7K4Q-92XD" in mail["html"]
    (attachment,) = mail["attachments"]
    assert attachment["filename"] == "receipt-SG-7K4Q-92XD.pdf"
    downloaded = await sink.http.get(attachment["url"])
    original = await world.pdf.get(f"/documents/{document_id}", headers=world_pdf_reader(world))
    assert downloaded.content == original.content

    async def sent() -> dict:
        status = await world.client.get(
            f"/users/{user['id']}/messages/{queued['message_id']}", headers=world.notifier()
        )
        assert status.json()["status"] == "sent"
        return status.json()

    await eventually(sent)
    again = await _notify(world, user["id"], **body)
    assert again.status_code == 202
    assert again.json()["message_id"] == queued["message_id"]
    assert again.json()["status"] == "sent"
    assert len(await sink.messages("guest@example.com")) == 2


def world_pdf_reader(world) -> dict[str, str]:
    return bearer(world.issuer.service_token("users", "documents:read", "pdf"))


async def test_booking_mail_data_is_checked_per_template(world):
    user = await world.register("data@example.com")
    missing_refund = await _notify(
        world, user["id"], template="booking-cancelled", data=MAIL_DATA, message_key="b1.cancelled"
    )
    assert missing_refund.status_code == 422
    assert problem_field(missing_refund) == "data.refund"
    unknown = await _notify(
        world, user["id"], template="booking-exploded", data=MAIL_DATA, message_key="b1.x"
    )
    assert unknown.status_code == 422 and problem_field(unknown) == "template"
    bad_key = await _notify(
        world, user["id"], template="booking-confirmed", data=MAIL_DATA, message_key="a b"
    )
    assert bad_key.status_code == 422 and problem_field(bad_key) == "message_key"
    no_document = await _notify(
        world,
        user["id"],
        template="booking-confirmed",
        data=MAIL_DATA,
        message_key="b1.confirmed",
        attachments=[{"document_id": "0" * 32, "filename": "r.pdf"}],
    )
    assert no_document.status_code == 422
    assert problem_field(no_document) == "attachments.0.document_id"
    nobody = await _notify(
        world, "no-such-user", template="booking-confirmed", data=MAIL_DATA, message_key="b2"
    )
    assert nobody.status_code == 404


async def test_failure_and_cancellation_mails_say_why_and_how_much(world, sink):
    user = await world.register("both@example.com")
    failed = await _notify(
        world, user["id"], template="booking-failed",
        data={**MAIL_DATA, "confirmation_code": None, "reason": "the card was declined"},
        message_key="booking-7.failed",
    )  # fmt: skip
    cancelled = await _notify(
        world, user["id"], template="booking-cancelled",
        data={**MAIL_DATA, "refund": 14738}, message_key="booking-8.cancelled",
    )  # fmt: skip
    assert failed.status_code == cancelled.status_code == 202
    mails = await sink.wait_for("both@example.com", count=3)
    texts = {m["message_id"]: m["text"] for m in mails}
    assert "the card was declined" in texts["<booking-7.failed@staysaga.local>"]
    assert "Refund: 147.38 EUR" in texts["<booking-8.cancelled@staysaga.local>"]


async def test_another_travellers_messages_are_404(world):
    user = await world.register("owner@example.com")
    stranger = bearer(world.issuer.user_token("someone-else", "users:notify", "users"))
    response = await world.client.post(
        f"/users/{user['id']}/messages",
        json={"template": "booking-confirmed", "data": MAIL_DATA, "message_key": "k"},
        headers=stranger,
    )
    assert response.status_code == 404


async def test_mail_queued_while_smtp_is_down_is_delivered_when_it_comes_back(
    tmp_path, database_url, dead_port
):
    async with users_world(tmp_path, database_url, dead_port, TestIssuer()) as world:
        user = await world.register("patient@example.com")

        async def failed_at_least_twice() -> None:
            async with world.app.state.engine.connect() as conn:
                row = (
                    await conn.execute(sa.select(outbox).where(outbox.c.user_id == user["id"]))
                ).one()
            assert row.status == "pending" and row.attempts >= 2, row
            assert row.last_error

        await eventually(failed_at_least_twice)

        async with running_sink(tmp_path / "late-sink", smtp_port=dead_port) as sink:
            (mail,) = await sink.wait_for("patient@example.com")
            assert mail["subject"] == "Confirm your e-mail address"
            assert mail["message_id"] == f"<verify-email.{user['id']}@staysaga.local>"


async def test_booking_mail_money_must_be_a_json_integer(world):
    user = await world.register("money@example.com")
    for amount in ("29476", True, 29476.0):
        response = await _notify(
            world,
            user["id"],
            template="booking-confirmed",
            data={**MAIL_DATA, "total": amount},
            message_key="b2.confirmed",
        )
        assert response.status_code == 422, (amount, response.text)
        assert problem_field(response) == "data.total"


async def test_booking_mail_text_that_would_break_its_headers_is_422(world):
    user = await world.register("headers@example.com")
    response = await _notify(
        world,
        user["id"],
        template="booking-confirmed",
        data={**MAIL_DATA, "hotel_name": "Grand\nBcc: everyone@example.com"},
        message_key="b3.confirmed",
    )
    assert response.status_code == 422, response.text
    assert problem_field(response) == "data.hotel_name"


async def test_the_confirmation_has_the_address_room_policy_and_a_link_to_manage_it(world, sink):
    user = await world.register("manage@example.com")
    data = {
        **MAIL_DATA,
        "booking_id": "b42",
        "room_type_name": "Double room",
        "hotel_address": "12 Rue de Rivoli, Paris, France",
        "free_cancellation_until": "2099-02-27T14:00:00Z",
        "late_cancellation_fee": 12899,
    }
    sent = await _notify(
        world, user["id"], template="booking-confirmed", data=data, message_key="b42.confirmed"
    )
    assert sent.status_code == 202, sent.text
    _, mail = await sink.wait_for("manage@example.com", count=2)
    for part in (mail["text"], mail["html"]):
        assert "12 Rue de Rivoli, Paris, France" in part
        assert "Double room" in part
        assert "Free cancellation until 27 February 2099, 14:00 UTC" in part
        assert "the hotel keeps 128.99 EUR (the first night)" in part
        assert "https://staysaga.test/bookings/b42" in part


async def test_a_failure_mail_says_why_once_and_links_the_booking(world, sink):
    user = await world.register("failed@example.com")
    data = {
        **MAIL_DATA,
        "confirmation_code": None,
        "booking_id": "b43",
        "reason": "The hold expired before a payment arrived.",
    }
    sent = await _notify(
        world, user["id"], template="booking-failed", data=data, message_key="b43.failed"
    )
    assert sent.status_code == 202, sent.text
    _, mail = await sink.wait_for("failed@example.com", count=2)
    assert mail["subject"] == "Your booking at Grand Hotel Paris did not go through"
    assert "The hold expired before a payment arrived.\n" in mail["text"]
    assert "arrived.." not in mail["text"] and "arrived.." not in mail["html"]
    assert "https://staysaga.test/bookings/b43" in mail["text"]


def test_a_free_cancellation_already_past_is_not_promised():
    data = api.BookingMailData.model_validate(
        {
            **MAIL_DATA,
            "free_cancellation_until": "2027-02-27T14:00:00Z",
            "late_cancellation_fee": 100,
        }
    )
    late = policy_text(data, datetime(2027, 2, 28, tzinfo=UTC))
    assert late.startswith("Free cancellation has ended for these dates")
    assert "1.00 EUR" in late


async def test_a_yen_confirmation_states_whole_yen(world, sink):
    user = await world.register("yen@example.com")
    data = {
        **MAIL_DATA,
        "hotel_name": "Grand Hotel Tokyo",
        "total": 45160,
        "currency": "JPY",
        "booking_id": "b44",
        "free_cancellation_until": "2099-02-27T14:00:00Z",
        "late_cancellation_fee": 22580,
    }
    sent = await _notify(
        world, user["id"], template="booking-confirmed", data=data, message_key="b44.confirmed"
    )
    assert sent.status_code == 202, sent.text
    _, mail = await sink.wait_for("yen@example.com", count=2)
    for part in (mail["text"], mail["html"]):
        assert "45,160 JPY" in part
        assert "the hotel keeps 22,580 JPY (the first night)" in part
        assert "451.60" not in part and ".00 JPY" not in part
