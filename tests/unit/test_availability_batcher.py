"""Search's availability batcher: who shares a call, and what each search gets back."""

import asyncio

import pytest

from services.search.availability import AvailabilityBatcher
from tests.support.harness import eventually


class Reservations:
    """A stand-in for the call to Reservations: each call waits until the test answers it."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []
        self._answers: list[asyncio.Future] = []
        self.at_once = self.most_at_once = 0

    async def __call__(self, questions: list[dict]) -> list[dict]:
        self.calls.append(list(questions))
        answer = asyncio.get_running_loop().create_future()
        self._answers.append(answer)
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            return await answer
        finally:
            self.at_once -= 1

    def answer(self, call: int) -> None:
        """Answer each question of that call with itself."""
        self._answers[call].set_result([{"status": 200, "body": q} for q in self.calls[call]])

    def fail(self, call: int, exc: Exception) -> None:
        self._answers[call].set_exception(exc)

    def reply(self, call: int, results: list[dict]) -> None:
        self._answers[call].set_result(results)


async def until(condition, timeout: float = 5.0) -> None:
    """Let the loop run until `condition()` holds (no sleeping: a turn of the loop a time)."""

    async def holds() -> None:
        assert condition(), "condition never held"

    await eventually(holds, timeout, interval=0)


def q(n: int) -> dict:
    return {"hotel_ids": [n], "guests": 2}


async def one_call_out() -> tuple[Reservations, AvailabilityBatcher, asyncio.Task]:
    """A one-lane batcher whose lane is busy with the call for q(1)."""
    reservations = Reservations()
    batcher = AvailabilityBatcher(reservations, lanes=1)
    first = asyncio.create_task(batcher.ask(q(1)))
    await until(lambda: len(reservations.calls) == 1)
    return reservations, batcher, first


async def test_a_lone_search_goes_out_at_once_on_its_own():
    reservations = Reservations()
    batcher = AvailabilityBatcher(reservations)
    asked = asyncio.create_task(batcher.ask(q(1)))
    await until(lambda: len(reservations.calls) == 1)
    assert reservations.calls == [[q(1)]]
    reservations.answer(0)
    assert await asked == {"status": 200, "body": q(1)}


async def test_searches_that_come_while_the_lanes_are_busy_share_the_next_call():
    reservations, batcher, first = await one_call_out()
    waiting = [asyncio.create_task(batcher.ask(q(n))) for n in (2, 3, 4)]
    await until(lambda: len(batcher._queue) == 3)
    assert len(reservations.calls) == 1
    reservations.answer(0)
    await until(lambda: len(reservations.calls) == 2)
    assert reservations.calls[1] == [q(2), q(3), q(4)]
    reservations.answer(1)
    assert await first == {"status": 200, "body": q(1)}
    assert [await w for w in waiting] == [{"status": 200, "body": q(n)} for n in (2, 3, 4)]


async def test_no_more_calls_at_once_than_lanes_and_no_more_searches_a_call_than_allowed():
    reservations = Reservations()
    batcher = AvailabilityBatcher(reservations, lanes=2, max_per_call=2)
    asked = [asyncio.create_task(batcher.ask(q(n))) for n in range(7)]
    await until(lambda: len(reservations.calls) == 2)
    assert reservations.calls == [[q(0), q(1)], [q(2), q(3)]]
    assert len(batcher._queue) == 3
    reservations.answer(0)
    await until(lambda: len(reservations.calls) == 3)
    assert reservations.calls[2] == [q(4), q(5)]
    reservations.answer(1)
    await until(lambda: len(reservations.calls) == 4)
    assert reservations.calls[3] == [q(6)]
    reservations.answer(2)
    reservations.answer(3)
    assert [(await a)["body"] for a in asked] == [q(n) for n in range(7)]
    assert reservations.most_at_once == 2


async def test_a_failed_call_fails_each_of_its_searches_and_the_next_ones_still_go():
    reservations, batcher, first = await one_call_out()
    second = asyncio.create_task(batcher.ask(q(2)))
    third = asyncio.create_task(batcher.ask(q(3)))
    await until(lambda: len(batcher._queue) == 2)
    reservations.answer(0)
    await until(lambda: len(reservations.calls) == 2)
    reservations.fail(1, ConnectionResetError("reset by peer"))
    assert (await first)["status"] == 200
    for task in (second, third):
        with pytest.raises(ConnectionResetError):
            await task
    later = asyncio.create_task(batcher.ask(q(4)))
    await until(lambda: len(reservations.calls) == 3)
    reservations.answer(2)
    assert (await later)["body"] == q(4)


async def test_a_short_answer_fails_the_whole_call_rather_than_mixing_searches_up():
    reservations, batcher, first = await one_call_out()
    waiting = [asyncio.create_task(batcher.ask(q(n))) for n in (2, 3)]
    await until(lambda: len(batcher._queue) == 2)
    reservations.answer(0)
    await until(lambda: len(reservations.calls) == 2)
    reservations.reply(1, [{"status": 200, "body": q(2)}])
    await first
    for task in waiting:
        with pytest.raises(RuntimeError, match="1 results for 2 searches"):
            await task


async def test_a_search_that_gave_up_is_not_sent_and_the_others_are_answered():
    reservations, batcher, first = await one_call_out()
    gave_up = asyncio.create_task(batcher.ask(q(2)))
    stays = asyncio.create_task(batcher.ask(q(3)))
    await until(lambda: len(batcher._queue) == 2)
    gave_up.cancel()
    reservations.answer(0)
    await until(lambda: len(reservations.calls) == 2)
    assert reservations.calls[1] == [q(3)]
    reservations.answer(1)
    assert (await first)["body"] == q(1)
    assert (await stays)["body"] == q(3)
    assert gave_up.cancelled()


async def test_closing_cancels_the_searches_in_flight_and_queued():
    reservations, batcher, in_flight = await one_call_out()
    queued = asyncio.create_task(batcher.ask(q(2)))
    await until(lambda: len(batcher._queue) == 1)
    await batcher.aclose()
    for task in (in_flight, queued):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_search_asked_as_the_last_lane_finishes_still_goes_out():
    calls = []

    async def reservations(questions):
        calls.append(questions)
        return [{"status": 200, "body": x} for x in questions]

    batcher = AvailabilityBatcher(reservations, lanes=1)

    async def one_after_another():
        # Each ask comes in the turn of the loop where the lane that answered the last ends.
        return [await batcher.ask(q(n)) for n in range(3)]

    asked = asyncio.create_task(one_after_another())
    await until(asked.done)
    assert asked.result() == [{"status": 200, "body": q(n)} for n in range(3)]
    assert calls == [[q(0)], [q(1)], [q(2)]]
