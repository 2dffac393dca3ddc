"""The two document templates, drawn with reportlab: pure functions from data to PDF bytes.

Blocking, CPU-bound code: the app runs it on a thread pool, never on the event loop.
Only the PDF base fonts are used (Helvetica), so rendering needs no font files; they cover
Latin-1 (cp1252) text, which is what the demo catalogue holds.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from typing import Any

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.common.money import format_money
from services.pdf.api import CancellationData, ReceiptData

QR_SIZE = 32 * mm
_ACCENT = colors.HexColor("#1f4e79")


class QrCode(Flowable):
    """A QR code of `text`, `size` points wide, with the standard four-module quiet zone.

    Drawn as one filled path of each row's dark runs: reportlab's QrCodeWidget builds a
    validated shape object per run and costs the receipt a third of its rendering time.
    """

    QUIET_MODULES = 4

    def __init__(self, text: str, size: float = QR_SIZE) -> None:
        super().__init__()
        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(text)
        code.make()
        self.modules: list[list[bool]] = [[bool(m) for m in row] for row in code.modules]
        self.width = self.height = size

    def draw(self) -> None:
        """Paint the dark modules, top row first (PDF's y axis points up)."""
        count = len(self.modules)
        box = self.width / (count + 2 * self.QUIET_MODULES)
        path = self.canv.beginPath()
        for r, row in enumerate(self.modules):
            y = self.height - (r + self.QUIET_MODULES + 1) * box
            c = 0
            for dark, run in itertools.groupby(row):
                length = len(list(run))
                if dark:
                    path.rect((c + self.QUIET_MODULES) * box, y, length * box, box)
                c += length
        self.canv.drawPath(path, stroke=0, fill=1)


def _styles() -> dict[str, ParagraphStyle]:
    sheet = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=sheet["Title"], textColor=_ACCENT, spaceAfter=2),
        "h2": ParagraphStyle("h2", parent=sheet["Heading2"], textColor=_ACCENT),
        "body": sheet["BodyText"],
        "small": ParagraphStyle("small", parent=sheet["BodyText"], fontSize=8, textColor="grey"),
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The card schemes the bank names, as a receipt spells them.
CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
}


def card_words(data: ReceiptData) -> str | None:
    """The card paid with, brand and last four only ('Visa ending 4242'); None if unknown."""
    if not data.card_last4:
        return None
    brand = CARD_BRANDS.get(data.card_brand or "", "Card")
    return f"{brand} ending {data.card_last4}"


def tax_words(data: ReceiptData) -> str:
    """The tax the total includes: 'incl. 10% VAT 26.78 EUR'."""
    rate = f"{data.tax_rate_percent}% VAT" if data.tax_rate_percent is not None else "taxes"
    return f"incl. {rate} {format_money(data.taxes, data.currency)}"


def _stay_table(data: ReceiptData) -> Table:
    money = lambda amount: format_money(amount, data.currency)  # noqa: E731
    rows: list[list[str]] = [["Night", "Price"]]
    rows += [[n.night.strftime("%a %d %b %Y"), money(n.price)] for n in data.nights]
    # The nights' prices include the tax: the total is their sum, and the tax a part of it.
    rows += [["Total", money(data.total)], ["", tax_words(data)]]
    table = Table(rows, colWidths=[110 * mm, 50 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONTNAME", (0, -2), (-1, -2), "Helvetica-Bold"),
                ("LINEABOVE", (0, -2), (-1, -2), 1, _ACCENT),
                ("FONTSIZE", (0, -1), (-1, -1), 8),
                ("TEXTCOLOR", (0, -1), (-1, -1), colors.grey),
            ]
        )
    )
    return table


def _header(data: ReceiptData, title: str) -> list[Flowable]:
    s = _styles()
    facts = Table(
        [
            [
                Paragraph(
                    f"<b>{_escape(data.hotel_name)}</b><br/>{_escape(data.hotel_address)}<br/><br/>"
                    f"Guest: <b>{_escape(data.guest_name)}</b><br/>"
                    + (f"Room: {_escape(data.room_type_name)}<br/>" if data.room_type_name else "")
                    + f"Check-in: {data.check_in.isoformat()}<br/>"
                    f"Check-out: {data.check_out.isoformat()} "
                    f"({len(data.nights)} night{'s' if len(data.nights) != 1 else ''})<br/>"
                    f"Confirmation code: <b>{_escape(data.confirmation_code)}</b><br/>"
                    f"Payment reference: {_escape(data.payment_reference)}",
                    s["body"],
                ),
                QrCode(data.confirmation_code),
            ]
        ],
        colWidths=[125 * mm, 40 * mm],
        hAlign="LEFT",
    )
    facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Paragraph(title, s["title"]), Spacer(1, 4 * mm), facts, Spacer(1, 6 * mm)]


def receipt_flowables(data: ReceiptData) -> list[Flowable]:
    """The booking receipt: hotel, guest, room, dates, each night, total and the tax it
    includes, the card paid with, codes, QR."""
    s = _styles()
    card = card_words(data)
    paid_with = f" with {_escape(card)}" if card else ""
    return [
        *_header(data, "Booking receipt"),
        Paragraph("Your stay", s["h2"]),
        _stay_table(data),
        Spacer(1, 8 * mm),
        Paragraph(
            f"Paid{paid_with}: {format_money(data.total, data.currency)}, payment reference "
            f"{_escape(data.payment_reference)}. Show the QR code or the confirmation code "
            "at the front desk.",
            s["body"],
        ),
    ]


def cancellation_flowables(data: ReceiptData) -> list[Flowable]:
    """The cancellation note: the booking as it was, when it was cancelled, the refund."""
    assert isinstance(data, CancellationData)
    s = _styles()
    return [
        *_header(data, "Cancellation note"),
        Paragraph(
            f"This booking was cancelled on {data.cancelled_at.strftime('%Y-%m-%d %H:%M')} UTC.",
            s["body"],
        ),
        Spacer(1, 4 * mm),
        Paragraph("The booking", s["h2"]),
        _stay_table(data),
        Spacer(1, 6 * mm),
        Paragraph(
            f"<b>Refund: {format_money(data.refund, data.currency)}</b> to "
            f"{_escape(card_words(data) or 'the card paid with')}, payment reference "
            f"{_escape(data.payment_reference)}.",
            s["body"],
        ),
    ]


_FLOWABLES: dict[str, Callable[[ReceiptData], list[Flowable]]] = {
    "receipt": receipt_flowables,
    "cancellation": cancellation_flowables,
}
_TITLES = {"receipt": "Booking receipt", "cancellation": "Cancellation note"}


def render(template: str, data: ReceiptData, document_id: str) -> bytes:
    """The PDF of a template filled with data (deterministic: same input, same bytes)."""
    buffer = io.BytesIO()
    title = f"{_TITLES[template]} {data.confirmation_code}"
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="staysaga",
        subject=document_id,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        invariant=True,
    )
    styles = _styles()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(20 * mm, 10 * mm, f"staysaga · document {document_id}")
        canvas.restoreState()

    flowables = _FLOWABLES[template](data)
    flowables.append(Spacer(1, 10 * mm))
    flowables.append(Paragraph("Thank you for booking with staysaga.", styles["small"]))
    document.build(flowables, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
