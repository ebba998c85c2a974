"""Logger, Tracer and Metrics, created once; every function imports them from here.

Decorator order in every handler: ``@logger.inject_lambda_context`` → ``@tracer.capture_lambda_handler``
→ ``@metrics.log_metrics``. The service name comes from ``POWERTOOLS_SERVICE_NAME`` per function.

Tracing with the X-Ray SDK is opt-in (the template's ``EnableSdkTracing``): importing the SDK builds
its recorder, about 200 ms of every cold start, two thirds of the 300 ms budget. With it off, the
Tracer gets a provider that records nothing, so the X-Ray SDK's core is never imported; Lambda's
own ``Tracing: Active`` segments (init, invocation) are still there.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

# A function that calls no model (validate, report) has no metrics to flush; that is expected.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class _UnrecordedSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class UntracedProvider(BaseProvider):
    """The Tracer's provider when SDK tracing is off.

    A disabled Powertools Tracer still enters its provider's ``in_subsegment`` around every handler,
    and its default provider is the X-Ray SDK's recorder: this one records nothing and needs no SDK.
    """

    @contextlib.contextmanager
    def in_subsegment(self, name: str = "", **kwargs: Any) -> Iterator[BaseSegment]:
        yield _UnrecordedSegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str = "", **kwargs: Any):  # noqa: ANN201 - an async generator
        yield _UnrecordedSegment()

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Any) -> None: ...
    def patch_all(self) -> None: ...


def sdk_tracing_enabled(environ: Any = os.environ) -> bool:
    return not resolve_truthy_env_var_choice(env=environ.get("POWERTOOLS_TRACE_DISABLED", "false"))


logger = Logger()
tracer = Tracer() if sdk_tracing_enabled() else Tracer(provider=UntracedProvider(), disabled=True)
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
