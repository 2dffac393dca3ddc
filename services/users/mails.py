"""The e-mails the Users service writes: subject, plain text and HTML from Jinja2 templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from services.common.money import format_money
from services.common.problems import ValidationProblem, errors_from_validation
from services.users import api

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

SUBJECTS = {
    "verify-email": "Confirm your e-mail address",
    "password-reset": "Reset your staysaga password",
    "booking-confirmed": "Booking confirmed: {hotel_name}, {check_in}",
    "booking-cancelled": "Booking cancelled: {hotel_name}, {check_in}",
    "booking-reminder": "See you soon at {hotel_name} ({check_in})",
    "booking-failed": "Your booking at {hotel_name} did not go through",
}


@dataclass(frozen=True)
class Rendered:
    """An e-mail ready for the outbox."""

    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any]) -> Rendered:
    """Fill a template's subject, text and HTML with `context`."""
    subject = SUBJECTS[template].format(**context)
    variables = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        text=_ENV.get_template(f"{template}.txt").render(variables),
        html=_ENV.get_template(f"{template}.html").render(variables),
    )


def policy_text(data: api.BookingMailData, now: datetime) -> str:
    """The hotel's cancellation policy in words, as of `now` ('' if the data has none)."""
    if data.free_cancellation_until is None:
        return ""
    fee = (
        f"{format_money(data.late_cancellation_fee, data.currency)} (the first night)"
        if data.late_cancellation_fee is not None
        else "the first night"
    )
    until = data.free_cancellation_until.astimezone(UTC)
    if until <= now:
        return f"Free cancellation has ended for these dates; if you cancel, the hotel keeps {fee}."
    when = f"{until.day} {until:%B %Y, %H:%M} UTC"
    return f"Free cancellation until {when}; after that, the hotel keeps {fee}."


def booking_context(
    template: str, data: dict[str, Any], link_base: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Validated template data of a booking e-mail, or a 422 naming `data.<field>`; with a
    `link_base` (the website's address), the link to the booking's page."""
    try:
        parsed = api.BookingMailData.model_validate(data)
    except ValidationError as exc:
        raise ValidationProblem(errors_from_validation(exc, prefix="data.")) from None
    missing = parsed.missing_for(template)
    if missing:
        raise ValidationProblem(
            [{"field": f"data.{f}", "message": f"required for {template}"} for f in missing]
        )
    context = parsed.model_dump()
    context["check_in"] = parsed.check_in.isoformat()
    context["check_out"] = parsed.check_out.isoformat()
    context["total_text"] = (
        format_money(parsed.total, parsed.currency) if parsed.total is not None else ""
    )
    context["refund_text"] = (
        format_money(parsed.refund, parsed.currency) if parsed.refund is not None else ""
    )
    context["policy_text"] = policy_text(parsed, now or datetime.now(UTC))
    context["manage_link"] = (
        f"{link_base.rstrip('/')}/bookings/{parsed.booking_id}"
        if link_base and parsed.booking_id
        else ""
    )
    return context
