"""How text becomes a typed value: each parser takes the text and returns the value, or
raises ValueError saying what the value must be. Settings parse their variables with them
(naming the variable), and routes and forms the numbers a caller types (naming the field)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from services.common.payload_keys import parse_keys

_ASCII_DIGITS = re.compile(r"[0-9]+")


def ascii_digits(raw: str, min_length: int = 1, max_length: int = 12) -> str:
    """Text of the digits 0-9 only, `min_length` to `max_length` of them.

    `str.isdigit()` is true of "²" and "١٢" as well, and `int()` fails on the first (a 500
    where a 4xx was due) and reads the second as 12: input a caller types is judged here."""
    if not min_length <= len(raw) <= max_length or not _ASCII_DIGITS.fullmatch(raw):
        raise ValueError(f"must be {min_length} to {max_length} of the digits 0-9")
    return raw


def whole_number(raw: str, max_length: int = 12) -> int:
    """A whole number, 0 or more, written in the digits 0-9 (at most `max_length` of them)."""
    try:
        return int(ascii_digits(raw, 1, max_length))
    except ValueError:
        raise ValueError("must be a whole number written in the digits 0-9") from None


def port(raw: str) -> int:
    """A TCP port number."""
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def boolean(raw: str) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def choice(*allowed: str) -> Callable[[str], str]:
    """One of a few words (case-insensitive)."""

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def positive_int(raw: str) -> int:
    """A whole number above 0."""
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a whole number greater than 0")
    return value


def positive_float(raw: str) -> float:
    """A number above 0."""
    value = float(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def non_negative_int(raw: str) -> int:
    """A whole number, 0 or more."""
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def rate(raw: str) -> float:
    """A share from 0 to 1."""
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be a share from 0 to 1")
    return value


def networks(raw: str) -> str:
    """Comma-separated IP addresses or networks (`10.0.0.0/8,192.0.2.1`)."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return ",".join(items)


def counter_storage(raw: str) -> str:
    """Where rate-limit counts live: `memory://` or a `redis://` URL."""
    value = raw.strip()
    if value != "memory://" and not value.startswith(("redis://", "rediss://")):
        raise ValueError("must be memory:// or a redis:// URL")
    return value


def payload_keys(raw: str) -> str:
    """`id:base64key,...`: keys that encrypt workflow payloads (services/common/payload_keys)."""
    parse_keys(raw)
    return raw.strip()


def http_url(raw: str) -> str:
    """An http:// or https:// URL."""
    value = raw.strip()
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("must be an http:// or https:// URL")
    return value


def trace_link(raw: str) -> str:
    """An http(s) URL template with `{trace_id}` where a trace's id goes."""
    value = http_url(raw)
    if "{trace_id}" not in value:
        raise ValueError("must contain {trace_id} where the trace's id goes")
    return value


_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def sql_name(raw: str) -> str:
    """A lower-case SQL name: a letter, then up to 39 letters, digits or underscores."""
    value = raw.strip()
    if not _NAME.fullmatch(value):
        raise ValueError("must be a lower-case letter, then letters, digits or _ (at most 40)")
    return value


def postgres_server(raw: str) -> str:
    """A PostgreSQL server as an asyncpg SQLAlchemy URL naming no database."""
    value = raw.strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    if scheme != "postgresql+asyncpg" or not sep or not rest:
        raise ValueError("must be a postgresql+asyncpg://user@host:port URL")
    if "/" in rest:
        raise ValueError("must name no database (each service's is made from it)")
    return value
