import pytest

from components.settings import load_settings
from services.common.mail import SmtpConfig, build_message, message_id_for
from services.common.money import format_money
from services.common.settings import SettingsError
from services.users.links import RESET_PASSWORD, VERIFY_EMAIL, InvalidLink, LinkSigner


def test_money_is_formatted_from_minor_units_per_currency():
    assert format_money(12899, "EUR") == "128.99 EUR"
    assert format_money(123456789, "usd") == "1,234,567.89 USD"
    assert format_money(5000, "JPY") == "5,000 JPY"
    assert format_money(1234, "KWD") == "1.234 KWD"
    assert format_money(-5, "EUR") == "-0.05 EUR"


def test_message_id_is_derived_from_the_key_and_refuses_unsafe_keys():
    assert message_id_for("booking-42.confirmed") == "<booking-42.confirmed@staysaga.local>"
    with pytest.raises(ValueError):
        message_id_for("a key>with<brackets")


def test_a_link_token_checks_signature_purpose_and_expiry():
    signer = LinkSigner("secret")
    token = signer.make(VERIFY_EMAIL, "u1", "zoe@example.com", ttl=60, now=1000)
    claims = signer.check(token, VERIFY_EMAIL, now=1059)
    assert claims.user_id == "u1"
    with pytest.raises(InvalidLink, match="expired"):
        signer.check(token, VERIFY_EMAIL, now=1061)
    with pytest.raises(InvalidLink, match="purpose"):
        signer.check(token, RESET_PASSWORD, now=1000)
    with pytest.raises(InvalidLink, match="signature"):
        LinkSigner("other secret").check(token, VERIFY_EMAIL, now=1000)
    payload, _, signature = token.partition(".")
    with pytest.raises(InvalidLink):
        flipped = "B" if payload.endswith("A") else "A"
        signer.check(payload[:-1] + flipped + "." + signature, VERIFY_EMAIL, now=1000)


def test_smtp_settings_default_to_the_mail_sink_and_refuse_tls_with_starttls():
    settings = load_settings({"MAILSINK_SMTP_PORT": "2525"})
    assert SmtpConfig.from_settings(settings).port == 2525
    assert SmtpConfig.from_settings(settings).host == "127.0.0.1"
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):
        load_settings({"SMTP_TLS": "true", "SMTP_STARTTLS": "true"})


@pytest.mark.parametrize("to", ["x<a@evil.example>", "x,y@evil.example", "a@b.example\r\nBcc: c@d"])
def test_a_message_goes_to_one_bare_address_or_is_not_built(to):
    with pytest.raises(ValueError):
        build_message(
            sender="staysaga <no-reply@staysaga.local>",
            to=to,
            subject="s",
            text="t",
            html=None,
            message_key="booking-1.confirmed",
        )
