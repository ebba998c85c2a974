"""Logger, Tracer and Metrics, created once; every function imports them from here.

Decorator order in every handler: ``@logger.inject_lambda_context`` → ``@tracer.capture_lambda_handler``
→ ``@metrics.log_metrics``. The service name comes from ``POWERTOOLS_SERVICE_NAME`` per function.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

# A function that calls no model (validate, report) has no metrics to flush; that is expected.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Bakeoff")

__all__ = ["logger", "tracer", "metrics", "MetricUnit"]


def record_model_call(model_id: str, role: str, input_tokens: int, output_tokens: int,
                      cost_usd: float, latency_ms: int) -> None:
    """EMF metrics for one model call, with ``modelId`` and ``role`` (candidate/judge) dimensions.

    ``single_metric`` so that the score step, which calls the judge many times, still emits one
    record per call with the right dimensions. ``CostUsd`` summed over all dimensions is what the
    billing alarms in ``template.yaml`` watch.
    """
    from aws_lambda_powertools.metrics import single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # single_metric does not check POWERTOOLS_METRICS_DISABLED itself
        return

    for name, unit, value in (
        ("InputTokens", MetricUnit.Count, input_tokens),
        ("OutputTokens", MetricUnit.Count, output_tokens),
        ("LatencyMs", MetricUnit.Milliseconds, latency_ms),
        ("CostUsd", MetricUnit.NoUnit, cost_usd),
    ):
        with single_metric(name=name, unit=unit, value=value, namespace="Bakeoff") as metric:
            metric.add_dimension(name="modelId", value=model_id)
            metric.add_dimension(name="role", value=role)
    # The same cost once more under one fixed dimension: the series the cost alarms sum.
    with single_metric(name="CostUsd", unit=MetricUnit.NoUnit, value=cost_usd, namespace="Bakeoff") as metric:
        metric.add_dimension(name="scope", value="all")
