"""The API tests' fixtures: a scripted Converse endpoint, the offline stack, the local API Gateway in
front of it (with and without its body validator). Fakes sit only at the network boundary (the Converse
endpoint); everything between it and the HTTP client is the real code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bakeoff_offline.local_api import GatewayConfig, LocalApi
from bakeoff_offline.stack import OfflineStack
from tests.api.helpers import OTHER_KEY, ROOT, healthy, key, load_corpus, scripted_models, summary
from tests.support.converse_fakes import ScriptedModels, converse_server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "corpus_case" in metafunc.fixturenames:
        cases = load_corpus()
        metafunc.parametrize("corpus_case", cases, ids=[c.name for c in cases])


@pytest.fixture(scope="module")
def script() -> ScriptedModels:
    return scripted_models()


@pytest.fixture(autouse=True)
def _reset_script(request: pytest.FixtureRequest) -> None:
    if "script" in request.fixturenames:
        script = request.getfixturevalue("script")
        script.candidate, script.judge, script.by_model = summary, healthy, {}


@pytest.fixture(scope="module")
def converse(script: ScriptedModels) -> Iterator[Any]:
    with converse_server(script) as server:
        yield server


@pytest.fixture(scope="module")
def offline(converse: Any) -> Iterator[OfflineStack]:
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": converse.url}
    with OfflineStack(ROOT, env=env, retry_time_scale=0.01) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(offline: OfflineStack) -> Iterator[LocalApi]:
    """The local API as deployed: keys, usage plan (generous here) and the gateway's body validator."""
    config = GatewayConfig(keys=[key(), key(OTHER_KEY, "other")])
    with LocalApi.for_offline_stack(offline, config) as local:
        yield local


@pytest.fixture(scope="module")
def api_without_validator(offline: OfflineStack) -> Iterator[LocalApi]:
    """The same, but with the gateway's validator off: the API function alone must refuse bad input."""
    config = GatewayConfig(keys=[key()], validate_body=False)
    with LocalApi.for_offline_stack(offline, config) as local:
        yield local
