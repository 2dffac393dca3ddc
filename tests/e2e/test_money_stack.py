"""`staysaga up` runs the bank and Payments: a card is tokenized and charged over real HTTP."""

import signal

import httpx
import pytest

from tests.support.stack import READY_LINE, StackProcess, kill_quietly

pytestmark = pytest.mark.e2e

SECRET = "sk_e2e_secret"  # noqa: S105 - a test fixture
PUBLISHABLE = "pk_e2e_publishable"


async def test_up_serves_the_bank_and_payments(tmp_path):
    env = {"BANK_SECRET_KEY": SECRET, "BANK_PUBLISHABLE_KEY": PUBLISHABLE}
    stack = StackProcess(tmp_path, env).start()
    try:
        stack.wait_for_line(READY_LINE)
        bank = stack.url("bank")
        secret = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient() as http:
            assert (await http.get(stack.url("payments") + "/readyz")).status_code == 200
            token = await http.post(
                bank + "/tokens",
                json={
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2099,
                    "cvc": "123",
                    "holder": "Ada",
                },
                headers={"Authorization": f"Bearer {PUBLISHABLE}"},
            )
            assert token.status_code == 201, token.text
            authorized = await http.post(
                bank + "/authorizations",
                json={
                    "token": token.json()["token"],
                    "amount": 12_900,
                    "currency": "EUR",
                    "reference": "e2e-1",
                },
                headers={**secret, "Idempotency-Key": "e2e-1"},
            )
            assert authorized.status_code == 201, authorized.text
            unauthenticated = await http.get(bank + "/authorizations")
            assert unauthenticated.status_code == 401
        assert "4242424242424242" not in stack.output
        assert stack.stop(signal.SIGINT) == 0
    finally:
        if stack.process and stack.process.poll() is None:
            stack.process.kill()
        kill_quietly(stack.processes())
