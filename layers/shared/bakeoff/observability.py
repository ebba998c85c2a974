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
import json
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
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


_emf_lock = threading.Lock()


def emit_emf(records: list[dict[str, Any]]) -> None:
    """EMF records to stdout, each exactly one line, all in one write under one lock.

    Powertools prints a record with ``print``, which writes the JSON and its newline separately: two
    judge threads flushing at once can put two records on one line, and CloudWatch drops that line
    (both records, with their cost). Every EMF line of this package goes through here instead.
    """
    text = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records)
    with _emf_lock:
        sys.stdout.write(text)


class OneLineEMFProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, flushing through ``emit_emf`` (the handler's own metrics at its end)."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set and not is_metrics_disabled():
            emit_emf([self.serialize_metric_set()])
            self.clear_metrics()
        else:  # nothing to write: Powertools' own warning (or error) for an empty flush
            super().flush_metrics(raise_on_empty_metrics)


logger = Logger()
tracer = Tracer() if sdk_tracing_enabled() else Tracer(provider=UntracedProvider(), disabled=True)
metrics = Metrics(namespace="Bakeoff")
# The same shared metric sets every Metrics instance uses, flushed one line at a time.
metrics.provider = OneLineEMFProvider(
    namespace="Bakeoff",
    metric_set=metrics.metric_set,
    dimension_set=metrics.dimension_set,
    metadata_set=metrics.metadata_set,
    default_dimensions=metrics.default_dimensions,
)

__all__ = ["logger", "tracer", "metrics", "MetricUnit"]


def record_model_call(
    model_id: str, role: str, input_tokens: int, output_tokens: int, cost_usd: float, latency_ms: int
) -> None:
    """EMF metrics for one model call, with ``modelId`` and ``role`` (candidate/judge) dimensions.

    One record per metric (as Powertools' ``single_metric`` makes them) so that the score step, which
    calls the judge many times from several threads, emits each call's records with the right
    dimensions, one line each (``emit_emf``). ``CostUsd`` summed over all dimensions is what the
    billing alarms in ``template.yaml`` watch.
    """
    from aws_lambda_powertools.metrics.base import SingleMetric

    if is_metrics_disabled():
        return

    def record(name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> dict[str, Any]:
        metric = SingleMetric(namespace="Bakeoff")
        metric.add_metric(name=name, unit=unit, value=value)
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)
        return metric.serialize_metric_set()

    per_model = {"modelId": model_id, "role": role}
    emit_emf(
        [
            record("InputTokens", MetricUnit.Count, input_tokens, per_model),
            record("OutputTokens", MetricUnit.Count, output_tokens, per_model),
            record("LatencyMs", MetricUnit.Milliseconds, latency_ms, per_model),
            record("CostUsd", MetricUnit.NoUnit, cost_usd, per_model),
            # The same cost once more under one fixed dimension: the series the cost alarms sum.
            record("CostUsd", MetricUnit.NoUnit, cost_usd, {"scope": "all"}),
        ]
    )
