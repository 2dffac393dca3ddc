"""Example renderings of each template for docs/examples/ (`python -m services.pdf.examples`).

The data is the same as the tests', so the examples show what the tests check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.pdf import api
from services.pdf.render import render

RECEIPT = api.ReceiptData.model_validate(
    {
        "hotel_name": "Grand Hotel Paris",
        "hotel_address": "12 Rue de Rivoli, Paris, France",
        "guest_name": "Zoë Traveller",
        "check_in": "2027-03-01",
        "check_out": "2027-03-03",
        "nights": [
            {"night": "2027-03-01", "price": 12899},
            {"night": "2027-03-02", "price": 13899},
        ],
        "taxes": 2436,
        "total": 26798,
        "currency": "EUR",
        "payment_reference": "pay_7f3a9c",
        "confirmation_code": "SG-7K4Q-92XD",
        "room_type_name": "Double room",
        "tax_rate_percent": 10,
        "card_brand": "visa",
        "card_last4": "4242",
    }
)
CANCELLATION = api.CancellationData.model_validate(
    {**RECEIPT.model_dump(mode="json"), "refund": 14738, "cancelled_at": "2027-02-20T09:30:00Z"}
)


def write_examples(folder: Path) -> list[Path]:
    """Render each template's example into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for template, data in (("receipt", RECEIPT), ("cancellation", CANCELLATION)):
        path = folder / f"{template}.pdf"
        path.write_bytes(render(template, data, f"example-{template}"))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_examples(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/examples")):
        print(path)
