"""InvokeModelFunction: one Map branch, one candidate model, one Converse call (or its checkpoint)."""

import os

import boto3

from bakeoff.converse import ConverseClient, client_config
from bakeoff.models import ModelTask
from bakeoff.observability import logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import S3_CONFIG, Store
from functions.invoke_model.answer import answer

settings = Settings.from_env(os.environ)
store = Store(boto3.client("s3", config=S3_CONFIG), settings.BUCKET_NAME)
converse = ConverseClient(
    boto3.client(
        "bedrock-runtime",
        config=client_config(settings.MODEL_CONNECT_TIMEOUT_SECONDS, settings.MODEL_READ_TIMEOUT_SECONDS),
    )
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    task = ModelTask.model_validate(event)
    return answer(task, store=store, converse=converse).dump()
