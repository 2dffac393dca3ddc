"""The data converter: pydantic models in and out of workflow and activity payloads."""

from temporalio.contrib.pydantic import pydantic_data_converter

DATA_CONVERTER = pydantic_data_converter
