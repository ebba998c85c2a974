"""moto, tuned for the offline stack, behind a version gate.

Each speed change here alters how fast the offline stack runs, never what the definition or the
handlers do; each was found by profiling a dataset run (20 items x 3 models + judge) with py-spy, and
``bench/README.md`` has the figures. They reach into moto's private names, so they are applied only to
a moto version they were checked against (``KNOWN_GOOD_MOTO``) and only when every name they replace
is where it was. On any other version, with a name gone, or when one fails as it is applied (then all
are undone), the stack runs on plain moto and says so in one log line: an upgrade may cost speed,
never correctness. ``tests/integration/test_moto_tuning.py`` fails loudly in that case, so whoever
upgrades moto checks the tunings and adds the version.

Speed (gated):

- **Import without EC2.** The interpreter's Batch task imports ``moto.batch.utils``; that runs
  ``moto/batch/__init__``, which imports moto's EC2 models and builds their region and instance-type
  tables (1.2 s of start-up) for a task Bakeoff's ASL never uses.
- **Parse a definition once.** moto parses the definition with its ANTLR grammar at
  ``create_state_machine`` and again at every execution start (0.2-0.4 s each for Bakeoff's ASL). The
  parsed program is declarative - evaluation state lives in each execution's ``Environment`` - so one
  parse serves every execution of the same text in the process. (Parsed programs were once also
  pickled to disk to spare each command its first parse, ~0.2 s; dropped: unpickling moto's internals
  from a cache folder is a code-loading path of its own, for 3% of a command.)
- **Parse a JSONPath once.** ``jsonpath_ng.ext.parse`` builds a new PLY lexer and parser on every
  call, and moto calls it for every ``$.path`` of every state it runs: a fifth of a dataset run's CPU.
  Parsed paths are immutable, so they are cached by their text.
- **One unsigned Lambda client.** moto builds a new boto3 Lambda client for every ``lambda:invoke``
  task (~20 ms of CPU each); one client per endpoint serves them all (boto3 clients are thread-safe).
  It is made with botocore's public ``Config(signature_version=UNSIGNED)``: the local Lambda API checks
  no signature, and SigV4 signing was 7% of a dataset run's CPU. (The stack's own Step Functions client
  is unsigned the same way, in ``stack.py``. S3 requests stay signed - moto's S3 treats an unsigned
  request as anonymous, which the bucket's public-access block refuses - and so do Bedrock's.)
- **S3's URL table loaded once.** moto's S3 backend reloads its ``moto.s3.urls`` module twice for
  every request (so that a changed ``MOTO_S3_CUSTOM_ENDPOINTS`` takes effect); nothing changes it
  during a run, so it is reloaded once at the start. Each S3 call got 20-40% cheaper.
- **S3's error model built before the run, and its error table once per service.** moto builds the
  model on the first S3 error (a checkpoint miss) by listing every botocore service, in a cache
  without a lock; and it makes a new ``ErrorLookupFactory`` for every error it returns, so its
  per-factory cache never hits and every checkpoint miss rebuilds the table (0.5 ms each).

Fidelity (applied on any moto that has the names, since without it moto is less like S3):

- **One key, one request at a time.** moto checks a PutObject's ``If-Match`` / ``If-None-Match`` and
  then writes, with other threads free to run in between, so two concurrent writers could both pass
  the check that S3 lets only one pass (the reports index relies on it); and a put disposes of the
  key's old buffer while another put or a get may still be reading it ("I/O operation on closed
  file"). PutObject and GetObject of the same key are serialised (64 lock stripes by key).

Tests only: **Retry waits scaled** (``retry_time_scale``): moto's retrier sleeps for real between attempts.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto
from botocore import UNSIGNED
from botocore.config import Config

logger = logging.getLogger(__name__)

# The moto releases every speed tuning below was checked against (tests/integration/test_moto_tuning.py).
# botocore is not gated: nothing of it is patched (signing is skipped through its public Config).
KNOWN_GOOD_MOTO = frozenset({"5.2.5"})

PARSER_MODULE = "moto.stepfunctions.parser.asl.parse.asl_parser"
JSON_PATH_MODULES = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
)
MODELS_MODULE = "moto.stepfunctions.parser.models"
LAMBDA_TASKS_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
RETRY_MODULE = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
S3_MODELS_MODULE = "moto.s3.models"
S3_URLS_MODULE = "moto.s3.urls"
S3_RESPONSES_MODULE = "moto.s3.responses"
ERRORS_MODULE = "moto.core.errors"

# Every name a tuning replaces or calls, as ("module" or "module:Class", attribute).
SPEED_NAMES = (
    (PARSER_MODULE + ":AmazonStateLanguageParser", "parse"),
    *((module, "parse") for module in JSON_PATH_MODULES),
    (LAMBDA_TASKS_MODULE, "boto_client_for"),
    (S3_MODELS_MODULE + ":S3Backend", "_url_module"),
    (ERRORS_MODULE + ":ErrorLookupFactory", "for_service"),
    (ERRORS_MODULE + ":ErrorLookupFactory", "_create_error_lut"),
    ("moto.core.utils", "get_service_model"),
    ("moto.core.utils", "service_name_from_moto_package_name"),
)
FIDELITY_NAMES = tuple(
    (S3_RESPONSES_MODULE + ":S3Response", name) for name in ("put_object", "get_object", "parse_key_name")
)
RETRY_NAMES = ((RETRY_MODULE, "time"),)

# What moto 5.2.5's own boto_client_for gives a task's client (no retries: the ASL's Retry decides; no
# client timeout: the state's TimeoutSeconds does), plus no signing.
LAMBDA_TASK_CONFIG = Config(
    signature_version=UNSIGNED,
    parameter_validation=False,
    retries={"max_attempts": 0, "total_max_attempts": 1},
    connect_timeout=99999999,
    read_timeout=99999999,
)


def import_interpreter() -> None:
    """Import moto's interpreter with ``moto.batch`` as a bare package, so only ``moto.batch.utils`` runs.

    The bare package is removed after, so a later ``import moto.batch`` still gets the whole package.
    """
    if MODELS_MODULE in sys.modules:
        return
    bare = None
    if "moto.batch" not in sys.modules:
        spec = importlib.util.find_spec("moto.batch")
        bare = types.ModuleType("moto.batch")
        bare.__path__ = list(spec.submodule_search_locations or []) if spec else []
        sys.modules["moto.batch"] = bare
    try:
        importlib.import_module(MODELS_MODULE)
    finally:
        if bare is not None and sys.modules.get("moto.batch") is bare:
            del sys.modules["moto.batch"]


def _owner(target: str) -> Any:
    module_name, _, class_name = target.partition(":")
    owner = importlib.import_module(module_name)
    return getattr(owner, class_name) if class_name else owner


def missing_names(names: tuple[tuple[str, str], ...]) -> list[str]:
    """The names of ``names`` this moto does not have (a module that does not import counts as missing)."""
    gone = []
    for target, attribute in names:
        try:
            found = hasattr(_owner(target), attribute)
        except (ImportError, AttributeError):
            found = False
        if not found:
            gone.append(f"{target}.{attribute}")
    return gone


def why_untuned() -> str | None:
    """Why the speed tunings cannot be applied to the installed moto, or None when they can."""
    version = moto.__version__
    if version not in KNOWN_GOOD_MOTO:
        return f"moto {version} is not a version the tunings were checked with ({', '.join(KNOWN_GOOD_MOTO)})"
    import_interpreter()
    gone = missing_names(SPEED_NAMES)
    return f"moto {version} has no {', '.join(gone)}" if gone else None


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier so Retry waits can be shortened."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _Swaps:
    """Sets names for the duration of an ``ExitStack``, putting the originals back when it closes."""

    def __init__(self, undo: contextlib.ExitStack) -> None:
        self.undo = undo

    def __call__(self, target: str, attribute: str, value: Any) -> None:
        owner = _owner(target)
        # On a class, the class's own entry (a staticmethod or property stays one when restored).
        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        self.undo.callback(setattr, owner, attribute, original)
        setattr(owner, attribute, value)


def _memoized(function: Callable[[str], Any]) -> Callable[[str], Any]:
    """``function`` cached by its one string argument (errors are not cached: they re-raise each time)."""
    return functools.lru_cache(maxsize=1024)(function)


def _tune_for_speed(swap: _Swaps) -> None:
    from moto.core.utils import get_service_model, service_name_from_moto_package_name

    service_name_from_moto_package_name("s3")
    get_service_model("s3")

    factory = _owner(ERRORS_MODULE + ":ErrorLookupFactory")
    tables: dict[str | None, Any] = {}
    build_table = factory._create_error_lut

    def one_table_per_service(self: Any, service_model: Any) -> Any:
        service_id = service_model.metadata.get("serviceId")
        if service_id is None:
            return build_table(service_model)
        if service_id not in tables:  # a race builds one twice; either result is the same table
            tables[service_id] = build_table(service_model)
        return tables[service_id]

    swap(ERRORS_MODULE + ":ErrorLookupFactory", "for_service", one_table_per_service)

    # On the class, so every importer of it sees the change.
    parser = _owner(PARSER_MODULE + ":AmazonStateLanguageParser")
    swap(PARSER_MODULE + ":AmazonStateLanguageParser", "parse", staticmethod(_memoized(parser.parse)))
    for module_name in JSON_PATH_MODULES:
        swap(module_name, "parse", _memoized(_owner(module_name).parse))

    original_client_for = _owner(LAMBDA_TASKS_MODULE).boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def one_unsigned_lambda_client(region: str, service: str, state_credentials: Any = None) -> Any:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_LAMBDA")
        # moto 5.2.5 ignores state_credentials too: every task's client is the same but for the endpoint.
        if service != "lambda" or not endpoint:
            return original_client_for(region=region, service=service, state_credentials=state_credentials)
        with lock:
            if (region, endpoint) not in clients:
                clients[region, endpoint] = boto3.client(
                    "lambda", region_name=region, endpoint_url=endpoint, config=LAMBDA_TASK_CONFIG
                )
            return clients[region, endpoint]

    swap(LAMBDA_TASKS_MODULE, "boto_client_for", one_unsigned_lambda_client)

    s3_urls = importlib.reload(importlib.import_module(S3_URLS_MODULE))
    swap(S3_MODELS_MODULE + ":S3Backend", "_url_module", property(lambda backend: s3_urls))


def _serialise_each_key(swap: _Swaps) -> None:
    responses = _owner(S3_RESPONSES_MODULE + ":S3Response")
    stripes = [threading.Lock() for _ in range(64)]

    def one_at_a_time_per_key(operation: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def serialised(response: Any) -> Any:
            name = f"{response.bucket_name}/{response.parse_key_name()}"
            with stripes[hash(name) % len(stripes)]:
                return operation(response)

        return serialised

    for operation in ("put_object", "get_object"):
        swap(S3_RESPONSES_MODULE + ":S3Response", operation, one_at_a_time_per_key(getattr(responses, operation)))


@contextlib.contextmanager
def tuned_moto(retry_time_scale: float = 1.0) -> Iterator[None]:
    """Apply the changes above inside a running ``mock_aws``; undo them on exit.

    The speed tunings only on a known moto with every name in place; the fidelity fix and the retry
    scaling wherever their names exist. What is left out is said in one warning.
    """
    left_out: list[str] = []
    with contextlib.ExitStack() as undo:
        swap = _Swaps(undo)
        reason = why_untuned()
        if reason is None:
            speed = contextlib.ExitStack()
            try:
                _tune_for_speed(_Swaps(speed))
            except Exception as exc:  # noqa: BLE001 - a name that is there but behaves otherwise
                speed.close()  # what was applied is undone: all the speed tunings or none
                reason = f"a speed tuning failed on moto {moto.__version__} ({type(exc).__name__}: {exc})"
            else:
                undo.push(speed)
        if reason is not None:
            left_out.append(f"{reason}: plain moto, slower but the same results")
        if gone := missing_names(FIDELITY_NAMES):
            left_out.append(f"S3 requests to one key are not serialised ({', '.join(gone)} missing)")
        else:
            _serialise_each_key(swap)
        if retry_time_scale != 1.0:
            if gone := missing_names(RETRY_NAMES):
                left_out.append(f"Retry waits are not scaled ({', '.join(gone)} missing)")
            else:
                swap(RETRY_MODULE, "time", _ScaledTime(retry_time_scale))
        if left_out:
            logger.warning("moto_tuning: %s", "; ".join(left_out))
        yield
