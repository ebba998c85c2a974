"""BatchJobFunction: dataset mode with inference "batch": submits one Bedrock batch inference job per model,
then, called again after each Wait, watches the jobs and reads their answers back into the checkpoints."""

import os

import boto3
from botocore.config import Config

from bakeoff.observability import logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import S3_CONFIG, Store
from functions.batch_job.jobs import BatchTask, advance

settings = Settings.from_env(os.environ)
store = Store(boto3.client("s3", config=S3_CONFIG), settings.BUCKET_NAME)
# The control plane (CreateModelInvocationJob, GetModelInvocationJob): botocore retries its throttling
# a little; the state machine's Retry owns the rest.
bedrock = boto3.client(
    "bedrock", config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    task = BatchTask.model_validate(event)
    return advance(task, store=store, bedrock=bedrock, settings=settings).dump()
