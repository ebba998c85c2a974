"""What the offline twin needs because it runs many Lambda invocations at once in one process.

Lambda runs one invocation per process at a time, and Powertools is written for that: its metric set is
shared state, flushed (serialised, printed, cleared) at the end of each handler. Here handlers of several
functions run in threads side by side, so two flushes can interleave: one clears the set while the other
serialises it, and Powertools raises ``SchemaValidationError: Must contain at least one metric`` inside a
handler that did nothing wrong (a dataset run under load saw a branch fail that way). One flush at a time
removes that; the deployed code is untouched.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

_flush_lock = threading.Lock()


def serialise_metric_flushes() -> None:
    """Make ``flush_metrics`` one at a time process-wide (idempotent)."""
    original = AmazonCloudWatchEMFProvider.flush_metrics
    if getattr(original, "_bakeoff_serialised", False):
        return

    @functools.wraps(original)
    def flush_metrics(self: Any, *args: Any, **kwargs: Any) -> None:
        with _flush_lock:
            original(self, *args, **kwargs)

    flush_metrics._bakeoff_serialised = True  # type: ignore[attr-defined]
    AmazonCloudWatchEMFProvider.flush_metrics = flush_metrics  # type: ignore[method-assign]
