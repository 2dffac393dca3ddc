"""The money fixture: a bank and Payments per test, on each database backend."""

from tests.support.money import money  # noqa: F401 - a fixture
