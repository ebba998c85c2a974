"""Every EMF record is one line of its own, also when judge threads record model calls at once.

CloudWatch reads EMF from the log one line at a time; a line holding two records (or half of one) is
dropped, and with it the cost the billing alarms sum. stdout here writes slowly, so threads that can
interleave do: Powertools' ``print`` (the JSON, then the newline) put records on shared lines."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bakeoff.observability import metrics, record_model_call

THREADS, CALLS = 8, 15
RECORDS_PER_CALL = 5  # InputTokens, OutputTokens, LatencyMs, CostUsd per model, CostUsd in all


class SlowStdout(io.StringIO):
    """A log destination that yields to other threads inside every write."""

    def write(self, text: str) -> int:
        written = super().write(text)
        time.sleep(0.0005)
        return written


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def _records(text: str) -> list[dict]:
    lines = text.splitlines()
    records = []
    for line in lines:
        record = json.loads(line)  # one line, one JSON object: raises on two records or half of one
        assert isinstance(record, dict) and "_aws" in record, line[:200]
        records.append(record)
    return records


def test_concurrent_model_calls_each_record_on_its_own_line() -> None:
    # Given judge threads recording their calls at once
    out = SlowStdout()
    start = threading.Barrier(THREADS)

    def judge(n: int) -> None:
        start.wait()
        for call in range(CALLS):
            record_model_call(f"model-{n}", "judge", 400 + call, 60, 0.0005, 10)

    # When
    with contextlib.redirect_stdout(out), ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(judge, range(THREADS)))
    # Then every record is whole, on its own line, and none is missing
    records = _records(out.getvalue())
    assert len(records) == THREADS * CALLS * RECORDS_PER_CALL
    costs = [r for r in records if r.get("scope") == "all"]
    assert len(costs) == THREADS * CALLS
    assert sum(r["CostUsd"][0] for r in costs) == pytest.approx(THREADS * CALLS * 0.0005)


def test_the_handlers_flush_is_one_line_too_while_threads_record() -> None:
    # Given a handler's own metrics flushed while judge threads still record
    out = SlowStdout()
    with contextlib.redirect_stdout(out), ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(record_model_call, "m", "judge", 1, 1, 0.001, 1) for _ in range(40)]
        metrics.add_metric(name="UnscoredAnswers", unit="Count", value=0)
        metrics.flush_metrics()
        for future in futures:
            future.result()
    # Then
    records = _records(out.getvalue())
    assert len(records) == 40 * RECORDS_PER_CALL + 1
    assert sum("UnscoredAnswers" in r for r in records) == 1
