"""What the saga's documents and e-mails say: the room, the card, the VAT rate, the
address and the policy, a link to the booking, and an e-mail for a booking that failed."""

from datetime import timedelta

from temporalio.client import WorkflowHandle

from activities import models as act
from tests.workflows.standins import World
from tests.workflows.test_booking import STRICT_TERMS, awaiting_payment, bookings, pay
from workflows.models import (
    UPDATE_CANCEL,
    BookingState,
    BookingView,
    CancellationQuote,
    CancelRequest,
    Step,
)


async def _paid_then_cancelled(env, world: World) -> tuple[WorkflowHandle, BookingView]:
    async with bookings(env, world) as running:
        handle = await running.start(check_in_days=10, nights=2)
        await awaiting_payment(handle)
        view = await pay(handle)
        await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)
        await handle.result()
    return handle, view


async def test_the_receipt_and_the_note_name_the_room_the_card_and_the_vat_rate(
    time_skipping_env,
):
    world = World(terms=STRICT_TERMS)
    _, view = await _paid_then_cancelled(time_skipping_env, world)
    assert (view.card_brand, view.card_last4) == ("visa", "4242")
    receipt = world.documents[f"booking-{view.booking_id}-receipt"]["data"]
    note = world.documents[f"booking-{view.booking_id}-cancellation"]["data"]
    assert type(note) is act.CancellationData
    for data in (receipt, note):
        assert data.room_type_name == "Double Room"
        assert (data.card_brand, data.card_last4) == ("visa", "4242")
        assert data.tax_rate_percent == 20
        assert data.total == sum(n.price for n in data.nights)


async def test_the_confirmation_names_the_address_room_and_policy_and_links_the_booking(
    time_skipping_env,
):
    world = World()
    _, view = await _paid_then_cancelled(time_skipping_env, world)
    confirmed = world.emails[f"booking-{view.booking_id}-confirmed"].data
    assert confirmed.booking_id == view.booking_id
    assert confirmed.room_type_name == "Double Room"
    assert confirmed.hotel_address == "1 Rue de Rivoli, Paris, France"
    assert confirmed.free_cancellation_until == view.free_cancellation_until is not None
    assert confirmed.late_cancellation_fee == view.late_cancellation_fee


async def test_a_booking_that_expires_unpaid_is_told_by_e_mail(time_skipping_env):
    world = World(hold_ttl=timedelta(minutes=15))
    async with bookings(time_skipping_env, world) as running:
        view = await (await running.start()).result()
    assert view.state == BookingState.EXPIRED
    assert Step.FAILURE_EMAILED in view.steps
    mail = world.emails[f"booking-{view.booking_id}-failed"]
    assert mail.template == "booking-failed"
    assert mail.data.reason == "The hold expired before a payment arrived."
    assert mail.data.booking_id == view.booking_id and mail.attachments == []


async def test_a_declined_booking_is_told_by_e_mail_once_saying_nothing_was_charged_once(
    time_skipping_env,
):
    world = World(decline=True)
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await pay(handle)
        view = await handle.result()
    assert view.state in (BookingState.FAILED, BookingState.EXPIRED)
    (mail,) = [m for m in world.emails.values() if m.template == "booking-failed"]
    assert mail.data.reason == view.failure_reason.removesuffix(" Nothing was charged.")
    assert "Nothing was charged" not in mail.data.reason  # the template says it


async def test_a_room_never_held_sends_no_e_mail(time_skipping_env):
    world = World(sold_out=True)
    async with bookings(time_skipping_env, world) as running:
        view = await (await running.start()).result()
    assert view.state == BookingState.FAILED
    assert world.emails == {}
