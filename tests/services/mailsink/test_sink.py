from email.utils import make_msgid

from services.common.mail import Attachment, SmtpConfig, build_message, send_message
from tests.support.harness import problem_field
from tests.support.mailsink import running_sink

PDF = b"%PDF-1.4\n% a tiny stand-in\n%%EOF\n"


async def test_a_message_with_an_attachment_is_received_and_parsed_back(tmp_path):
    async with running_sink(tmp_path) as sink:
        message = build_message(
            sender="staysaga <no-reply@staysaga.local>",
            to="zoe@example.com",
            subject="Your receipt — Hôtel Été",
            text="Plain words.\n",
            html="<p>Rich <b>words</b>.</p>",
            message_key="booking-42.confirmed",
            attachments=[Attachment("receipt.pdf", PDF)],
        )
        await send_message(SmtpConfig("127.0.0.1", sink.smtp_port), message)

        (received,) = await sink.wait_for("zoe@example.com")
        assert received["subject"] == "Your receipt — Hôtel Été"
        assert received["message_id"] == "<booking-42.confirmed@staysaga.local>"
        assert received["headers"]["message-id"] == "<booking-42.confirmed@staysaga.local>"
        assert received["envelope_to"] == ["zoe@example.com"]
        assert received["recipients"] == "zoe@example.com"
        assert received["text"] == "Plain words.\n"
        assert "<b>words</b>" in received["html"]
        (attachment,) = received["attachments"]
        assert attachment["filename"] == "receipt.pdf"
        assert attachment["content_type"] == "application/pdf"

        download = await sink.http.get(attachment["url"])
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/pdf"
        assert download.content == PDF
        assert await sink.client.attachment(received["id"], 0) == PDF
        assert b"Subject:" in await sink.client.raw(received["id"])


async def test_inbox_page_lists_messages_and_shows_each_with_its_attachments(tmp_path):
    async with running_sink(tmp_path) as sink:
        message = build_message(
            sender="a@example.com",
            to="b@example.com",
            subject="<script>alert(1)</script> hello",
            text="hi",
            html="<p>hi</p>",
            message_key="inbox-test",
            attachments=[Attachment("note.pdf", PDF)],
        )
        await send_message(SmtpConfig("127.0.0.1", sink.smtp_port), message)
        (received,) = await sink.wait_for("b@example.com")

        inbox = await sink.http.get("/")
        assert inbox.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt; hello" in inbox.text
        assert "<script>" not in inbox.text
        page = await sink.http.get(f"/messages/{received['id']}")
        assert page.status_code == 200
        assert f"/api/messages/{received['id']}/attachments/0" in page.text
        assert "note.pdf" in page.text
        assert "<iframe sandbox" in page.text


async def test_messages_are_filtered_by_recipient_newest_first(tmp_path):
    async with running_sink(tmp_path) as sink:
        config = SmtpConfig("127.0.0.1", sink.smtp_port)
        for n, to in enumerate(["one@example.com", "two@example.com", "one@example.com"]):
            message = build_message(
                sender="s@example.com",
                to=to,
                subject=f"message {n}",
                text="x",
                html=None,
                message_key=make_msgid()[1:-1].split("@")[0],
            )
            await send_message(config, message)
        await sink.wait_for("ONE@example.com", count=2)
        subjects = [m["subject"] for m in await sink.messages("one@example.com")]
        assert subjects == ["message 2", "message 0"]
        assert len(await sink.messages()) == 3


async def test_unknown_message_or_attachment_is_404(tmp_path):
    async with running_sink(tmp_path) as sink:
        assert (await sink.http.get("/api/messages/999")).status_code == 404
        assert (await sink.http.get("/api/messages/999/attachments/0")).status_code == 404
        assert (await sink.http.get("/api/messages/abc")).status_code == 400


async def test_a_message_number_in_digits_other_than_0_to_9_is_400_naming_it(tmp_path):
    # "²" passes `str.isdigit()` but breaks `int()`; "١" (Arabic-Indic) would read as 1.
    async with running_sink(tmp_path) as sink:
        message = build_message(
            sender="staysaga <no-reply@staysaga.local>",
            to="zoe@example.com",
            subject="Your receipt",
            text="Plain words.\n",
            html=None,
            message_key="booking-43.confirmed",
            attachments=[Attachment("receipt.pdf", PDF)],
        )
        await send_message(SmtpConfig("127.0.0.1", sink.smtp_port), message)
        (received,) = await sink.wait_for("zoe@example.com")
        for path in ("/api/messages/%C2%B2", "/api/messages/%D9%A1", "/messages/%C2%B2"):
            response = await sink.http.get(path)
            assert response.status_code == 400, (path, response.text)
            assert problem_field(response) == "message_id"
        for index in ("%C2%B2", "%D9%A0"):
            attachment = await sink.http.get(f"/api/messages/{received['id']}/attachments/{index}")
            assert attachment.status_code == 400, attachment.text
            assert problem_field(attachment) == "index"
