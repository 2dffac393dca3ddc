"""Users' /metrics shows the outbox's backlog: what waits for SMTP, and since when."""

from prometheus_client.parser import text_string_to_metric_families

from tests.services.users.conftest import users_world
from tests.support.harness import eventually
from tests.support.tokens import TestIssuer


def gauges(text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("staysaga_users_outbox")
    }


async def test_mail_waiting_for_smtp_shows_in_the_outbox_backlog(tmp_path, database_url, dead_port):
    async with users_world(tmp_path, database_url, dead_port, TestIssuer()) as world:
        before = gauges((await world.client.get("/metrics")).text)
        await world.register("waiting@example.com")
        after = gauges((await world.client.get("/metrics")).text)

    assert before == {
        "staysaga_users_outbox_pending": 0.0,
        "staysaga_users_outbox_pending_oldest_age_seconds": 0.0,
    }
    assert after["staysaga_users_outbox_pending"] == 1.0
    assert after["staysaga_users_outbox_pending_oldest_age_seconds"] >= 0.0


async def test_delivered_mail_leaves_the_backlog(world):
    await world.register("delivered@example.com")

    async def drained() -> None:
        found = gauges((await world.client.get("/metrics")).text)
        assert found["staysaga_users_outbox_pending"] == 0.0

    await eventually(drained)
