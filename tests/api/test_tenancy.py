"""Tenant isolation over HTTP, offline: an evaluation belongs to the API key that created it.

Key B gets 404 for key A's evaluation, the same answer as for an ID that never existed; the two keys
never share cached answers or verdicts; the ``/_s3/`` relay serves only what the API presigned, with a
signature that checks. Fakes only at the Converse boundary."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from bakeoff.storage import evaluation_key
from tests.api.helpers import (
    API_KEY,
    OTHER_KEY,
    base_request,
    converse_calls,
    http,
    key,
    post,
    wait_done,
)

UNKNOWN_ID = "20250101T000000Z-0123abcd"


def _unique_request(tag: str) -> dict:
    """A request no other test sent (so no checkpoint from elsewhere answers it)."""
    request = base_request()
    request["article"] = f"[{tag}] " + request["article"]
    return request


def test_another_key_gets_404_exactly_as_for_an_unknown_id(api) -> None:
    # Given key A's finished evaluation
    accepted = post(api, _unique_request("tenancy-404"), api_key=API_KEY)
    assert accepted.status == 202, accepted.body
    evaluation_id = accepted.json()["evaluationId"]
    done = wait_done(accepted.json()["statusUrl"], api_key=API_KEY)
    assert done["status"] == "SUCCEEDED" and done["reportUrl"]
    # When key B asks for it, and for an ID that does not exist
    theirs = http("GET", f"{api.url}/evaluations/{evaluation_id}", api_key=OTHER_KEY)
    unknown = http("GET", f"{api.url}/evaluations/{UNKNOWN_ID}", api_key=OTHER_KEY)
    # Then both are 404 with the same message shape, and B learns nothing of A's evaluation
    assert theirs.status == unknown.status == 404
    assert theirs.json() == {"message": f"no evaluation {evaluation_id}"}
    assert unknown.json() == {"message": f"no evaluation {UNKNOWN_ID}"}
    assert b"reportUrl" not in theirs.body and b"_s3" not in theirs.body
    # And A still sees it
    assert http("GET", f"{api.url}/evaluations/{evaluation_id}", api_key=API_KEY).status == 200


def test_the_owner_is_the_key_id_api_gateway_would_pass(api, offline) -> None:
    # When each key creates an evaluation
    ids = {}
    for value in (API_KEY, OTHER_KEY):
        accepted = post(api, _unique_request("tenancy-owner"), api_key=value)
        assert accepted.status == 202, accepted.body
        ids[value] = accepted.json()["evaluationId"]
        wait_done(accepted.json()["statusUrl"], api_key=value)
    # Then each is stored with its own key's ID (never the key itself)
    owners = {value: json.loads(offline.get_object(evaluation_key(ids[value], "owner.json"))) for value in ids}
    assert owners[API_KEY]["apiKeyId"] == key(API_KEY).key_id
    assert owners[OTHER_KEY]["apiKeyId"] == key(OTHER_KEY, "other").key_id
    assert owners[API_KEY]["apiKeyId"] != owners[OTHER_KEY]["apiKeyId"]
    stored_text = json.dumps(list(owners.values()))
    assert API_KEY not in stored_text and OTHER_KEY not in stored_text
    # And every state saw the owner: the validated request carries it
    stored = json.loads(offline.get_object(evaluation_key(ids[API_KEY], "request.json")))
    assert stored["apiKeyId"] == key(API_KEY).key_id


def test_keys_never_share_cached_answers(api, offline, converse) -> None:
    # Given key A's evaluation, answered and judged
    request = _unique_request("tenancy-cache")
    models = len(request["models"])
    before = converse_calls(converse)
    wait_done(post(api, request, api_key=API_KEY).json()["statusUrl"], api_key=API_KEY)
    first = converse_calls(converse) - before
    assert first >= models
    # When key A sends it again, then key B sends the very same request
    before = converse_calls(converse)
    wait_done(post(api, request, api_key=API_KEY).json()["statusUrl"], api_key=API_KEY)
    again = converse_calls(converse) - before
    before = converse_calls(converse)
    other = wait_done(post(api, request, api_key=OTHER_KEY).json()["statusUrl"], api_key=OTHER_KEY)
    by_other = converse_calls(converse) - before
    # Then A's rerun is answered from A's checkpoints, and B pays for its own calls
    assert again == 0
    assert by_other == first
    assert other["status"] == "SUCCEEDED"
    scoped = offline.s3.list_objects_v2(
        Bucket=offline.stack.bucket_name, Prefix=f"checkpoints/answers/keys/{key(OTHER_KEY, 'other').key_id}/"
    )
    assert scoped.get("KeyCount", 0) >= models


def test_the_relay_serves_only_what_the_api_signed(api) -> None:
    # Given key A's report URL
    accepted = post(api, _unique_request("tenancy-relay"), api_key=API_KEY)
    evaluation_id = accepted.json()["evaluationId"]
    url = wait_done(accepted.json()["statusUrl"], api_key=API_KEY)["reportJsonUrl"]
    assert http("GET", url, api_key=None).status == 200
    path, query = urlsplit(url).path, urlsplit(url).query
    bucket = path.split("/")[2]
    request_path = f"/_s3/{bucket}/{evaluation_key(evaluation_id, 'request.json')}"
    # When someone reuses its signature for another object, alters it, or sends none
    forged = {
        "another object": f"{api.url}{request_path}?{query}",
        "another report": url.replace("report.json", "report.html"),
        "altered signature": re.sub(
            r"X-Amz-Signature=([0-9a-f])", lambda m: "X-Amz-Signature=" + ("0" if m[1] != "0" else "1"), url
        ),
        "longer expiry": url.replace("X-Amz-Expires=900", "X-Amz-Expires=3600"),
        "no signature": f"{api.url}{request_path}",
        "old-style expiry only": f"{api.url}{request_path}?Expires=9999999999",
    }
    # Then each is refused, and the request (the article, the prompt) is never served
    for what, forged_url in forged.items():
        reply = http("GET", forged_url, api_key=None)
        assert reply.status == 403, (what, reply.status)
        assert b"Lowmere" not in reply.body, what


# --- the API function itself (no gateway in front) -----------------------------------------------


def _event(method: str, path: str, api_key_id: str | None, body: str | None = None) -> dict:
    """A REST proxy event as API Gateway sends it (payload 1.0), down to what the function reads."""
    evaluation_id = path.rsplit("/", 1)[1] if path.count("/") == 2 else None
    return {
        "resource": "/evaluations/{evaluationId}" if evaluation_id else "/evaluations",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "api.example"},
        "multiValueHeaders": {"Host": ["api.example"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"evaluationId": evaluation_id} if evaluation_id else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "x",
            "stage": "prod",
            "resourceId": "r",
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "requestId": "id",
            "domainName": "api.example",
            "identity": {"sourceIp": "127.0.0.1", "apiKeyId": api_key_id},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _handler(offline):
    from bakeoff_offline.lambda_api import LambdaContext

    function = offline.lambda_server.functions["ApiFunction"]
    context = LambdaContext(
        function_name="ApiFunction",
        invoked_function_arn="arn:aws:lambda:x",
        memory_limit_in_mb=256,
        timeout_seconds=20,
        aws_request_id="req",
    )
    return lambda event: function.handler(event, context)


def test_the_function_refuses_a_post_that_names_no_key(offline, api) -> None:
    # Given an API method exposed without a key (apiKeyId absent)
    handler, started = (
        _handler(offline),
        offline.sfn.list_executions(stateMachineArn=offline.state_machine_arn)["executions"],
    )
    # When (no key ID, an empty one, one no API Gateway issues)
    replies = [
        handler(_event("POST", "/evaluations", key_id, json.dumps(_unique_request("tenancy-nokey"))))
        for key_id in (None, "", "../../checkpoints")
    ]
    # Then nothing starts: an evaluation nobody owns could be read by nobody
    assert [reply["statusCode"] for reply in replies] == [403, 403, 403], replies
    assert len(offline.sfn.list_executions(stateMachineArn=offline.state_machine_arn)["executions"]) == len(started)


def test_the_function_answers_only_the_owner(offline, api) -> None:
    handler = _handler(offline)
    # Given an evaluation created by key id "tenantA1"
    accepted = handler(_event("POST", "/evaluations", "tenantA1", json.dumps(_unique_request("tenancy-fn"))))
    assert accepted["statusCode"] == 202, accepted
    evaluation_id = json.loads(accepted["body"])["evaluationId"]
    path = f"/evaluations/{evaluation_id}"
    # Then only its owner gets it; another key, a missing key and a prefix of the ID all get 404
    assert handler(_event("GET", path, "tenantA1"))["statusCode"] == 200
    for other in ("tenantB2", None, "", "tenantA"):
        reply = handler(_event("GET", path, other))
        assert reply["statusCode"] == 404, other
        assert json.loads(reply["body"]) == {"message": f"no evaluation {evaluation_id}"}


def test_an_evaluation_started_without_the_api_is_nobodys(offline, api) -> None:
    # Given an execution started directly (the console, `local run`): no owner recorded
    evaluation_id, _ = offline.start(_unique_request("tenancy-direct"))
    # Then no key can read it through the API
    reply = _handler(offline)(_event("GET", f"/evaluations/{evaluation_id}", key(API_KEY).key_id))
    assert reply["statusCode"] == 404
