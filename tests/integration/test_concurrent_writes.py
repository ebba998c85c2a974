"""Evaluations finishing at once: the reports index keeps every row.

Twelve report steps update ``reports/index.json`` together, against moto's S3 as the offline stack tunes
it (conditional writes checked and applied atomically, as S3 does). A hook at the S3 boundary holds
each writer's first read of the index until all twelve have read it, the worst interleaving of a
read-modify-write: without conditional writes eleven rows are lost every time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bakeoff.errors import StorageError
from bakeoff.report import IndexRow, ReportHeadline
from bakeoff.storage import Store
from bakeoff_offline.moto_tuning import tuned_moto
from functions.report.build import update_index

BUCKET = "bakeoff-index-test"
WRITERS = 12


@pytest.fixture
def s3() -> Any:
    with mock_aws(), tuned_moto():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _report(n: int) -> ReportHeadline:
    return ReportHeadline.model_validate(
        {
            "evaluationId": f"20260101T0000{n:02d}Z-0000000{n % 10}",
            "createdAt": f"2026-01-01T00:00:{n:02d}+00:00",
            "title": f"run {n}",
            "winner": "m",
            "totals": {"models": 2, "failed": 0, "totalCostUsd": 0.01},
        }
    )


def _hold_first_reads(client: Any, parties: int) -> Callable[[], None]:
    """Each thread's first GetObject waits until ``parties`` threads have made theirs; returns the undo."""
    barrier, seen = threading.Barrier(parties, timeout=20), threading.local()

    def after_get(**_: Any) -> None:
        if not getattr(seen, "done", False):
            seen.done = True
            barrier.wait()

    client.meta.events.register("after-call.s3.GetObject", after_get)
    return lambda: client.meta.events.unregister("after-call.s3.GetObject", after_get)


def test_twelve_reports_finishing_at_once_keep_twelve_rows(s3) -> None:
    # Given twelve report steps that all read the index before any of them writes
    store = Store(s3, BUCKET)
    release = _hold_first_reads(s3, WRITERS)
    reports = [_report(n) for n in range(WRITERS)]
    # When they update it at once
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda r: update_index(store, "reports/", IndexRow.of(r), pause=lambda _: None), reports))
    release()
    # Then every row is there, once, newest first, and the page lists them all
    rows = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/index.json")["Body"].read())["evaluations"]
    assert sorted(r["evaluationId"] for r in rows) == sorted(r.evaluation_id for r in reports)
    assert [r["createdAt"] for r in rows] == sorted((r["createdAt"] for r in rows), reverse=True)
    html = s3.get_object(Bucket=BUCKET, Key="reports/index.html")["Body"].read().decode()
    assert all(r.evaluation_id in html for r in reports)


def test_a_report_written_again_replaces_its_row(s3) -> None:
    store = Store(s3, BUCKET)
    update_index(store, "reports/", IndexRow.of(_report(1)))
    update_index(store, "reports/", IndexRow.of(_report(2)))
    update_index(store, "reports/", IndexRow.of(_report(1).model_copy(update={"winner": "n"})))
    rows = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/index.json")["Body"].read())["evaluations"]
    assert [(r["evaluationId"], r["winner"]) for r in rows] == [
        (_report(2).evaluation_id, "m"),
        (_report(1).evaluation_id, "n"),
    ]


def test_a_conditional_write_that_loses_is_reported_not_applied(s3) -> None:
    # Given the index as one writer read it, then changed by another
    store = Store(s3, BUCKET)
    assert store.put_json_if("reports/index.json", {"evaluations": []}, etag=None) is not None
    _, etag = store.get_json_tagged("reports/index.json")
    assert store.put_json_if("reports/index.json", {"evaluations": [1]}, etag=etag) is not None
    # When the first writes with what it read, or creates what already exists
    stale = store.put_json_if("reports/index.json", {"evaluations": [2]}, etag=etag)
    exists = store.put_json_if("reports/index.json", {"evaluations": [3]}, etag=None)
    # Then neither is applied
    assert stale is None and exists is None
    assert store.get_json("reports/index.json") == {"evaluations": [1]}


def test_an_index_that_never_settles_is_a_storage_error_the_asl_retries(s3) -> None:
    # Given an S3 that refuses every conditional write (412 at the HTTP boundary)
    store = Store(s3, BUCKET)

    def precondition_failed(request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        from tests.support.s3_faults import _Raw

        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
            b"<Message>At least one of the pre-conditions you specified did not hold</Message></Error>"
        )
        return AWSResponse(request.url, 412, {"Content-Type": "application/xml"}, _Raw(body))

    s3.meta.events.register_first("before-send.s3.PutObject", precondition_failed)
    # Then the report step fails with the error the ASL retries, after a bounded number of tries
    with pytest.raises(StorageError, match="kept changing"):
        update_index(store, "reports/", IndexRow.of(_report(3)), pause=lambda _: None)
