"""The Temporal harness itself: both servers run a workflow, pydantic models travel intact."""

import uuid
from datetime import date, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.worker import Worker

from temporal.names import SEARCH_ATTRIBUTE_KEYS


class Stay(BaseModel):
    hotel_id: int
    check_in: date
    nights: int


class Quote(BaseModel):
    stay: Stay
    check_out: date


@activity.defn
async def quote_stay(stay: Stay) -> Quote:
    return Quote(stay=stay, check_out=stay.check_in + timedelta(days=stay.nights))


@workflow.defn
class QuoteWorkflow:
    @workflow.run
    async def run(self, stay: Stay) -> Quote:
        return await workflow.execute_activity(
            quote_stay, stay, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_a_workflow_round_trips_pydantic_models(workflow_env):
    queue = f"harness-{uuid.uuid4().hex}"
    stay = Stay(hotel_id=7, check_in=date(2027, 3, 1), nights=3)
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=[QuoteWorkflow], activities=[quote_stay]
    ):
        quote = await workflow_env.client.execute_workflow(
            QuoteWorkflow.run, stay, id=f"harness-{uuid.uuid4()}", task_queue=queue
        )
    assert quote == Quote(stay=stay, check_out=date(2027, 3, 4))


@workflow.defn
class NapWorkflow:
    @workflow.run
    async def run(self, hours: int) -> str:
        await workflow.sleep(timedelta(hours=hours))
        return "rested"


async def test_time_skipping_server_skips_a_long_timer(time_skipping_env):
    queue = f"harness-{uuid.uuid4().hex}"
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[NapWorkflow]):
        before = await time_skipping_env.get_current_time()
        result = await time_skipping_env.client.execute_workflow(
            NapWorkflow.run, 24, id=f"nap-{uuid.uuid4()}", task_queue=queue
        )
        after = await time_skipping_env.get_current_time()
    assert result == "rested"
    assert after - before >= timedelta(hours=24)


async def test_dev_server_knows_our_search_attributes(dev_server_env):
    response = await dev_server_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=dev_server_env.client.namespace)
    )
    assert {key.name for key in SEARCH_ATTRIBUTE_KEYS} <= set(response.custom_attributes)
