import io
import threading

import pytest
from pypdf import PdfReader

from services.pdf import domain
from tests.support.harness import problem_field
from tests.support.tokens import assert_refuses_bad_tokens, bearer

RECEIPT = {
    "hotel_name": "Grand Hotel Paris",
    "hotel_address": "12 Rue de Rivoli, Paris, France",
    "guest_name": "Zoë Traveller",
    "check_in": "2027-03-01",
    "check_out": "2027-03-03",
    "nights": [{"night": "2027-03-01", "price": 12899}, {"night": "2027-03-02", "price": 13899}],
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
CANCELLATION = {**RECEIPT, "refund": 14738, "cancelled_at": "2027-02-20T09:30:00Z"}


def _render_token(issuer):
    return bearer(issuer.service_token("worker-documents", "documents:render", "pdf"))


def _read_token(issuer, user="user-1"):
    return bearer(issuer.user_token(user, "documents:read", "pdf"))


async def _create(pdf, issuer, template="receipt", data=RECEIPT, key="k-1", owner="user-1"):
    return await pdf.post(
        "/documents",
        json={"template": template, "data": data, "owner_id": owner, "key": key},
        headers=_render_token(issuer),
    )


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_receipt_has_every_fact_of_the_booking(pdf, issuer):
    created = await _create(pdf, issuer)
    assert created.status_code == 201, created.text
    document = created.json()
    assert document["template"] == "receipt" and document["owner_id"] == "user-1"
    response = await pdf.get(f"/documents/{document['id']}", headers=_read_token(issuer))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = _text(response.content)
    for expected in (
        "Booking receipt",
        "Grand Hotel Paris",
        "12 Rue de Rivoli, Paris, France",
        "Zoë Traveller",
        "2027-03-01",
        "2027-03-03",
        "Mon 01 Mar 2027",
        "128.99 EUR",
        "Tue 02 Mar 2027",
        "138.99 EUR",
        "267.98 EUR",
        "pay_7f3a9c",
        "SG-7K4Q-92XD",
    ):
        assert expected in text, expected
    assert PdfReader(io.BytesIO(response.content)).metadata.title == "Booking receipt SG-7K4Q-92XD"


async def test_receipt_names_the_room_the_card_and_the_tax_the_total_includes(pdf, issuer):
    created = await _create(pdf, issuer)
    response = await pdf.get(f"/documents/{created.json()['id']}", headers=_read_token(issuer))
    text = _text(response.content)
    for expected in (
        "Room: Double room",
        "Paid with Visa ending 4242: 267.98 EUR",
        "Total\n267.98 EUR\nincl. 10% VAT 24.36 EUR",
    ):
        assert expected in text, expected
    # The tax is part of the total, not a line added to the nights.
    assert "Taxes" not in text


async def test_a_yen_receipt_has_whole_yen_everywhere(pdf, issuer):
    yen = {
        **RECEIPT,
        "hotel_name": "Grand Hotel Tokyo",
        "nights": [
            {"night": "2027-03-01", "price": 22580},
            {"night": "2027-03-02", "price": 22580},
        ],
        "taxes": 4105,
        "total": 45160,
        "currency": "JPY",
    }
    created = await _create(pdf, issuer, data=yen, key="k-yen")
    response = await pdf.get(f"/documents/{created.json()['id']}", headers=_read_token(issuer))
    text = _text(response.content)
    for expected in ("22,580 JPY", "Paid with Visa ending 4242: 45,160 JPY", "VAT 4,105 JPY"):
        assert expected in text, expected
    assert ".00 JPY" not in text and "451.60" not in text


async def test_a_receipt_without_room_card_or_rate_still_renders(pdf, issuer):
    older = {
        k: v
        for k, v in RECEIPT.items()
        if k not in ("room_type_name", "tax_rate_percent", "card_brand", "card_last4")
    }
    created = await _create(pdf, issuer, data=older, key="older-1")
    assert created.status_code == 201, created.text
    response = await pdf.get(f"/documents/{created.json()['id']}", headers=_read_token(issuer))
    text = _text(response.content)
    assert "incl. taxes 24.36 EUR" in text
    assert "Paid: 267.98 EUR" in text and "Room:" not in text


async def test_cancellation_note_states_the_refund(pdf, issuer):
    created = await _create(pdf, issuer, "cancellation", CANCELLATION, key="c-1")
    assert created.status_code == 201, created.text
    response = await pdf.get(f"/documents/{created.json()['id']}", headers=_read_token(issuer))
    text = _text(response.content)
    for expected in (
        "Cancellation note",
        "Refund: 147.38 EUR",
        "to Visa ending 4242",
        "2027-02-20 09:30",
        "SG-7K4Q-92XD",
    ):
        assert expected in text, expected


async def test_the_same_key_returns_the_same_document_without_rendering_again(
    pdf, issuer, monkeypatch
):
    first = await _create(pdf, issuer, key="booking-9.receipt")
    calls = []
    monkeypatch.setattr(domain, "render", lambda *a: calls.append(a) or b"%PDF-")
    again = await _create(pdf, issuer, key="booking-9.receipt")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert calls == []


async def test_a_key_reused_with_other_data_is_409(pdf, issuer):
    await _create(pdf, issuer, key="k-9")
    other = await _create(pdf, issuer, data={**RECEIPT, "total": 1}, key="k-9")
    assert other.status_code == 409
    assert other.json()["type"].endswith("/key-reused")


async def test_rendering_runs_off_the_event_loop(pdf, issuer, monkeypatch):
    threads = []
    real = domain.render

    def spy(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(domain, "render", spy)
    assert (await _create(pdf, issuer, key="thread")).status_code == 201
    assert threads and threads[0] is not threading.main_thread()
    assert threads[0].name.startswith("render")


@pytest.mark.parametrize(
    ("template", "data", "field"),
    [
        ("invoice", RECEIPT, "template"),
        ("receipt", {k: v for k, v in RECEIPT.items() if k != "hotel_name"}, "data.hotel_name"),
        ("receipt", {**RECEIPT, "nights": []}, "data.nights"),
        ("receipt", {**RECEIPT, "currency": "euro"}, "data.currency"),
        ("receipt", {**RECEIPT, "nights": [{"night": "2027-03-01"}]}, "data.nights.0.price"),
        ("cancellation", RECEIPT, "data.refund"),
        ("receipt", {**RECEIPT, "total": "29476"}, "data.total"),
        ("receipt", {**RECEIPT, "taxes": True}, "data.taxes"),
        (
            "receipt",
            {**RECEIPT, "nights": [{"night": "2027-03-01", "price": 1.0}]},
            "data.nights.0.price",
        ),
        (
            "cancellation",
            {**RECEIPT, "refund": "10", "cancelled_at": "2027-03-01T10:00:00Z"},
            "data.refund",
        ),
        ("receipt", {**RECEIPT, "total": 2**63}, "data.total"),
        # A guest's name the receipt would print with a line break, backwards or with a NUL.
        ("receipt", {**RECEIPT, "guest_name": "Ada\r\nBcc: x"}, "data.guest_name"),
        ("receipt", {**RECEIPT, "guest_name": "\u202eAda"}, "data.guest_name"),
        ("receipt", {**RECEIPT, "guest_name": "Ada\x00"}, "data.guest_name"),
    ],
)
async def test_unknown_template_or_bad_data_is_422_naming_it(pdf, issuer, template, data, field):
    response = await _create(pdf, issuer, template, data)
    assert response.status_code == 422, response.text
    assert problem_field(response) == field


async def test_a_traveller_gets_only_their_own_documents(pdf, issuer):
    document = (await _create(pdf, issuer, owner="user-1")).json()
    path = f"/documents/{document['id']}"
    assert (await pdf.get(path, headers=_read_token(issuer, "user-1"))).status_code == 200
    other = await pdf.get(path, headers=_read_token(issuer, "user-2"))
    assert other.status_code == 404
    service = bearer(issuer.service_token("users", "documents:read", "pdf"))
    assert (await pdf.get(path, headers=service)).status_code == 200
    assert (await pdf.get("/documents/" + "0" * 32, headers=service)).status_code == 404


async def test_routes_refuse_bad_tokens(pdf, issuer):
    await assert_refuses_bad_tokens(
        pdf, issuer, "POST", "/documents", "documents:render", "pdf",
        json={"template": "receipt", "data": RECEIPT, "owner_id": "u", "key": "k"},
    )  # fmt: skip
    document = (await _create(pdf, issuer)).json()
    await assert_refuses_bad_tokens(
        pdf, issuer, "GET", f"/documents/{document['id']}", "documents:read", "pdf"
    )
