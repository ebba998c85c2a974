"""The local API end to end: keys, throttle, quota, payload limit, the happy path to a fetched report,
a failed evaluation, and what the API leaves out of its answers and logs."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from bakeoff_offline.local_api import GatewayConfig, LocalApi
from tests.api.helpers import (
    API_KEY,
    OTHER_KEY,
    base_request,
    converse_calls,
    executions,
    http,
    key,
    post,
    wait_done,
)
from tests.support.converse_fakes import throttled
from tests.support.s3_faults import FailingPuts, store_client

UNKNOWN_ID = "20250101T000000Z-0123abcd"


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_key",
    [None, "", "not-a-key-of-this-api-000", API_KEY.upper()],
    ids=["no-key", "empty-key", "wrong-key", "wrong-case"],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_without_a_valid_key_403_and_nothing_runs(api, offline, converse, api_key, method) -> None:
    calls, started, invoked = converse_calls(converse), executions(offline), api.lambda_invocations
    if method == "POST":
        reply = post(api, base_request(), api_key=api_key)
    else:
        reply = http("GET", f"{api.url}/evaluations/{UNKNOWN_ID}", api_key=api_key)
    assert reply.status == 403
    assert reply.json() == {"message": "Forbidden"}
    assert reply.headers["x-amzn-errortype"] == "ForbiddenException"
    assert (converse_calls(converse), executions(offline), api.lambda_invocations) == (calls, started, invoked)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/evaluations"), ("DELETE", f"/evaluations/{UNKNOWN_ID}"), ("GET", "/"), ("POST", "/evaluations/x/y")],
)
def test_an_undeclared_route_is_403_as_on_api_gateway(api, method, path) -> None:
    reply = http(method, api.url + path)
    assert reply.status == 403
    assert reply.json() == {"message": "Missing Authentication Token"}


# --- the usage plan ------------------------------------------------------------------------------


def test_over_the_throttle_429_with_retry_after(offline) -> None:
    # Given a key allowed a burst of 2 and one request every 2 seconds
    config = GatewayConfig(keys=[key(rate=0.5, burst=2), key(OTHER_KEY, "other", rate=0.5, burst=2)])
    with LocalApi.for_offline_stack(offline, config) as api:
        url = f"{api.url}/evaluations/{UNKNOWN_ID}"
        # When it sends three at once
        replies = [http("GET", url) for _ in range(3)]
        # Then the burst passes (to the function: 404) and the third is throttled
        assert [r.status for r in replies] == [404, 404, 429]
        assert replies[2].json() == {"message": "Too Many Requests"}
        assert replies[2].headers["x-amzn-errortype"] == "TooManyRequestsException"
        assert 1 <= int(replies[2].headers["retry-after"]) <= 2
        # and the throttle is per key
        assert http("GET", url, api_key=OTHER_KEY).status == 404
        # and after Retry-After a token is back
        time.sleep(int(replies[2].headers["retry-after"]))
        assert http("GET", url).status == 404


def test_over_the_quota_429_until_the_period_ends(offline) -> None:
    config = GatewayConfig(keys=[key(quota=2)])
    with LocalApi.for_offline_stack(offline, config) as api:
        url = f"{api.url}/evaluations/{UNKNOWN_ID}"
        replies = [http("GET", url) for _ in range(3)]
        assert [r.status for r in replies] == [404, 404, 429]
        assert replies[2].json() == {"message": "Limit Exceeded"}
        assert 0 < int(replies[2].headers["retry-after"]) <= 86400


def test_the_usage_plan_defaults_come_from_the_template(offline) -> None:
    from bakeoff_offline.local_api import load_config

    config = load_config(offline.stack, api_keys=[API_KEY])
    template = offline.stack.template["Parameters"]
    (policy,) = config.keys
    assert policy.rate_limit == float(template["ApiThrottleRateLimit"]["Default"])
    assert policy.burst_limit == int(template["ApiThrottleBurstLimit"]["Default"])
    assert (policy.quota_limit, policy.quota_period) == (
        int(template["ApiQuotaLimit"]["Default"]),
        template["ApiQuotaPeriod"]["Default"],
    )


def test_no_key_configured_refuses_to_serve(offline) -> None:
    from bakeoff_offline.local_api import load_config

    with pytest.raises(ValueError, match="no API key"):
        load_config(offline.stack, api_keys=[])


def test_a_body_over_10_mib_is_413(api, converse) -> None:
    calls = converse_calls(converse)
    reply = http("POST", api.url + "/evaluations", b"x" * (10 * 1024 * 1024 + 1))
    assert reply.status == 413
    assert converse_calls(converse) == calls


# --- the happy path ------------------------------------------------------------------------------


def test_valid_request_202_then_succeeded_and_the_report_url_fetches_the_report(api, converse, caplog) -> None:
    # Given
    request = base_request()
    calls = converse_calls(converse)
    # When
    accepted = post(api, request)
    # Then
    assert accepted.status == 202, accepted.body
    body = accepted.json()
    assert re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", body["evaluationId"])
    assert body["statusUrl"] == f"{api.url}/evaluations/{body['evaluationId']}"
    assert accepted.headers["location"] == body["statusUrl"]
    assert body["estimatedCostUsd"] > 0

    done = wait_done(body["statusUrl"])
    assert done["status"] == "SUCCEEDED", done
    assert done["startedAt"] <= done["stoppedAt"]
    summary = done["summary"]
    assert [r["modelId"] for r in summary["ranking"]] and summary["complete"] is True
    assert {r["modelId"] for r in summary["ranking"]} == set(request["models"])
    assert summary["ranking"][0]["scores"] == {"accuracy": 7, "engagement": 7}
    assert summary["costs"]["totalUsd"] > 0
    assert converse_calls(converse) > calls

    expires = datetime.fromisoformat(done["reportUrlExpiresAt"])
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=900)
    html = http("GET", done["reportUrl"], api_key=None)
    assert html.status == 200 and html.headers["content-type"].startswith("text/html")
    assert b"<html" in html.body
    report = http("GET", done["reportJsonUrl"], api_key=None)
    assert report.status == 200
    assert report.json()["evaluationId"] == body["evaluationId"]
    # The CSV export is signed too; results.jsonl is a dataset's alone, so one article gets no URL for it
    csv = http("GET", done["resultsCsvUrl"], api_key=None)
    assert csv.status == 200 and csv.body.decode().splitlines()[0].startswith("evaluationId,rank,")
    assert done["resultsJsonlUrl"] is None

    # Neither the article nor the key reaches the logs.
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert "Lowmere" not in logged and API_KEY not in logged


def test_an_expired_report_url_is_refused(api) -> None:
    done = wait_done(post(api, base_request()).json()["statusUrl"])
    signed = re.search(r"X-Amz-Date=([0-9T]+Z)", done["reportUrl"])[1]
    old = (datetime.strptime(signed, "%Y%m%dT%H%M%SZ") - timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    reply = http("GET", done["reportUrl"].replace(signed, old), api_key=None)
    assert reply.status == 403
    assert b"Request has expired" in reply.body


def test_unknown_evaluation_is_404_and_a_malformed_id_400(api) -> None:
    assert http("GET", f"{api.url}/evaluations/{UNKNOWN_ID}").status == 404
    bad = http("GET", f"{api.url}/evaluations/..%2F..%2Fetc%2Fpasswd")
    assert bad.status == 400
    assert bad.json()["errors"][0]["field"] == "evaluationId"


def test_a_failed_evaluation_reports_its_error_without_a_stack_trace(api, offline) -> None:
    # Given the report step cannot write its report (every attempt, past every Retry)
    fault = FailingPuts(store_client(offline, "ReportFunction"), times=None, key_prefix="reports/")
    try:
        # When (no checkpoints: the models must be asked)
        done = wait_done(post(api, base_request() | {"useCache": False}).json()["statusUrl"])
    finally:
        fault.clear()
    # Then
    assert done["status"] == "FAILED"
    assert done["error"]["error"] == "StorageError"
    assert done["error"]["cause"]
    assert done["summary"] is None and done["reportUrl"] is None
    assert "stackTrace" not in json.dumps(done) and "Traceback" not in json.dumps(done)


def test_a_judge_that_always_fails_still_succeeds_with_the_answers_not_judged(api, script) -> None:
    # Given a judge that is throttled on every call (the Score state retries, then its Catch)
    script.judge = throttled()
    done = wait_done(post(api, base_request() | {"useCache": False}).json()["statusUrl"])
    # Then the report exists: no ranking, every answer listed as answered but not scored
    assert done["status"] == "SUCCEEDED" and done["reportUrl"]
    assert done["summary"]["ranking"] == [] and done["summary"]["winner"] is None
    assert sorted(done["summary"]["unscored"]) == sorted(base_request()["models"])
