"""What the receipt and the cancellation note say: the room, the card, the VAT rate."""

from temporalio.client import WorkflowHandle

from activities import models as act
from tests.workflows.standins import World
from tests.workflows.test_booking import STRICT_TERMS, awaiting_payment, bookings, pay
from workflows.models import UPDATE_CANCEL, BookingView, CancellationQuote, CancelRequest


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
