"""ScoreFunction: a judge model (never a candidate) scores every answer against the rubric."""

import os

import boto3

from bakeoff.converse import ConverseClient, client_config
from bakeoff.models import ScoreInput
from bakeoff.observability import logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import S3_CONFIG, Store
from functions.score.service import score_answers

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
    task = ScoreInput.model_validate(event)
    return score_answers(
        task,
        store=store,
        converse=converse,
        concurrency=settings.JUDGE_CONCURRENCY,
        prompt_caching=settings.JUDGE_PROMPT_CACHING,
    ).dump()
