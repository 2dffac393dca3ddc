"""Card numbers: the Luhn check, brands, and the test cards' scripted behaviour."""

from __future__ import annotations

from enum import Enum


class Behaviour(Enum):
    """What the bank does when a card is charged."""

    SUCCEED = "succeed"
    DECLINE = "card-declined"
    INSUFFICIENT_FUNDS = "insufficient-funds"
    EXPIRED = "expired-card"
    SLOW = "slow"


# In the manner of well-known providers' test numbers; every other valid number succeeds.
TEST_CARDS: dict[str, Behaviour] = {
    "4242424242424242": Behaviour.SUCCEED,
    "4000000000000002": Behaviour.DECLINE,
    "4000000000009995": Behaviour.INSUFFICIENT_FUNDS,
    "4000000000000069": Behaviour.EXPIRED,
    "4000000000000077": Behaviour.SLOW,
}


def luhn_valid(number: str) -> bool:
    """Whether a string of digits passes the Luhn checksum."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand(number: str) -> str:
    """The card scheme, from the number's prefix."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    return "unknown"


def behaviour(number: str) -> Behaviour:
    """How a card behaves when authorized."""
    return TEST_CARDS.get(number, Behaviour.SUCCEED)
