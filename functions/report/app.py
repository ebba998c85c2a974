"""ReportFunction: writes report.json, report.html and the reports index to S3."""

import os

import boto3

from bakeoff.models import ReportInput
from bakeoff.observability import logger, metrics, tracer
from bakeoff.settings import Settings
from bakeoff.storage import S3_CONFIG, Store
from functions.report.build import write_report

settings = Settings.from_env(os.environ)
store = Store(boto3.client("s3", config=S3_CONFIG), settings.BUCKET_NAME)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    task = ReportInput.model_validate(event)
    return write_report(task, store=store, prefix=settings.REPORT_PREFIX).dump()
