"""The offline twin runs handlers side by side in one process; Powertools' shared metric set must not
make one handler's flush fail because another flushed at the same moment."""

from __future__ import annotations

import threading
import time

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from bakeoff_offline.one_process import serialise_metric_flushes


def two_handlers_flushing_at_once(monkeypatch) -> list[BaseException]:
    """Two threads each add a metric and flush, with serialisation slowed so that the flushes overlap."""
    slow = AmazonCloudWatchEMFProvider.serialize_metric_set

    def slow_serialise(self, *args, **kwargs):
        time.sleep(0.2)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "serialize_metric_set", slow_serialise)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BakeoffTest")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    errors: list[BaseException] = []
    both_added = threading.Barrier(2)

    def handler() -> None:
        metrics = Metrics(service="twin")
        try:
            metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)
            both_added.wait()
            metrics.flush_metrics()
        except BaseException as exc:  # noqa: BLE001 - the test collects what a handler would have raised
            errors.append(exc)

    threads = [threading.Thread(target=handler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture
def restore_flush():
    original = AmazonCloudWatchEMFProvider.flush_metrics
    yield
    AmazonCloudWatchEMFProvider.flush_metrics = original


def test_unserialised_flushes_can_fail_a_handler(monkeypatch, restore_flush, capsys):
    # Powertools as Lambda runs it: the race is real (this is what the twin guards against)
    AmazonCloudWatchEMFProvider.flush_metrics = getattr(
        AmazonCloudWatchEMFProvider.flush_metrics, "__wrapped__", AmazonCloudWatchEMFProvider.flush_metrics
    )
    errors = two_handlers_flushing_at_once(monkeypatch)
    assert [type(e).__name__ for e in errors] == ["SchemaValidationError"]


def test_the_twin_flushes_one_at_a_time(monkeypatch, restore_flush, capsys):
    serialise_metric_flushes()
    serialise_metric_flushes()  # idempotent
    assert two_handlers_flushing_at_once(monkeypatch) == []
    assert capsys.readouterr().out.count('"Calls"') >= 1
