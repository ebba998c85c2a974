"""ValidateFunction: the first state. Refuses a bad request before any model is called."""

import os

import boto3

from bakeoff.evaluations import EvaluationStore
from bakeoff.models import ValidateInput, ValidateOutput
from bakeoff.observability import logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import S3_CONFIG, Store
from functions.validate.service import accept

settings = Settings.from_env(os.environ)
evaluations = EvaluationStore(Store(boto3.client("s3", config=S3_CONFIG), settings.BUCKET_NAME))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    task = ValidateInput.model_validate(event)
    evaluation = accept(
        task.request,
        evaluation_id=task.evaluation_id,
        created_at=task.started_at,
        settings=settings,
        evaluations=evaluations,
    )
    return ValidateOutput.of(evaluation, settings).dump()
