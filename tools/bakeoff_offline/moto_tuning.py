"""moto, tuned for the offline stack.

Each change here alters how fast the offline stack runs, never what the definition or the handlers
do; each was found by profiling a dataset run (20 items x 3 models + judge) with py-spy, and
``bench/README.md`` has the figures. They reach into moto's and botocore's private names, so moto's
version is pinned in ``requirements-dev.txt`` and ``tests/integration/test_moto_tuning.py`` fails
loudly if a patched name moves.

- **Import without EC2.** The interpreter's Batch task imports ``moto.batch.utils``; that runs
  ``moto/batch/__init__``, which imports moto's EC2 models and builds their region and instance-type
  tables (1.2 s of start-up) for a task Bakeoff's ASL never uses.
- **Parse a definition once.** moto parses the definition with its ANTLR grammar at
  ``create_state_machine`` and again at every execution start (0.4 s each for Bakeoff's ASL). The
  parsed program is declarative - evaluation state lives in each execution's ``Environment`` - so
  one parse serves every execution of the same text.
- **Parsed definitions kept on disk.** The first parse in a process costs 0.2 s, every command; the
  parsed program is pickled under ``$BAKEOFF_CACHE_DIR`` (default ``$XDG_CACHE_HOME/bakeoff/asl``, or
  ``~/.cache/bakeoff/asl``), in a folder only its user may write, and only this user's files are read; named by
  the hash of the definition's text, moto's version and Python's, and loads in 2 ms. A definition
  that does not parse is never cached, so it fails as before; an unreadable cache file is parsed
  afresh and replaced. ``BAKEOFF_CACHE_DIR=`` (empty) turns the cache off.
- **Parse a JSONPath once.** ``jsonpath_ng.ext.parse`` builds a new PLY lexer and parser on every
  call, and moto calls it for every ``$.path`` of every state it runs: a fifth of a dataset run's CPU.
  Parsed paths are immutable, so they are cached by their text.
- **One Lambda client.** moto builds a new boto3 Lambda client for every ``lambda:invoke`` task
  (~20 ms of CPU each); one client per endpoint serves them all (boto3 clients are thread-safe).
- **S3's URL table loaded once.** moto's S3 backend reloads its ``moto.s3.urls`` module twice for
  every request (so that a changed ``MOTO_S3_CUSTOM_ENDPOINTS`` takes effect); nothing changes it
  during a run, so it is reloaded once at the start. Each S3 call got 20-40% cheaper (2.7-3.8 ms ->
  2.1-2.5 ms in a micro-benchmark).
- **S3's error model built before the run.** moto builds it on the first S3 error (a checkpoint
  miss) by listing every botocore service, in a cache without a lock: 60 parallel first misses would
  each do it.
- **S3's error table built once.** moto makes a new ``ErrorLookupFactory`` for every error it
  returns, so its per-factory cache never hits and every checkpoint miss (120 in a 20-item run)
  rebuilds the table of S3's error shapes (0.5 ms each). One table per service serves them all.
- **No request signing for Step Functions and Lambda.** In the offline stack they go to moto and to
  the local Lambda API, neither of which checks a signature (SigV4 signing was 7% of a dataset run's
  CPU, all services together). S3 requests are still signed: moto's S3 treats an unsigned request as
  anonymous and the bucket's public-access block refuses it. Bedrock requests are still signed: the
  Converse endpoint may be anything ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` names.
- **One key, one request at a time.** moto checks a PutObject's ``If-Match`` / ``If-None-Match`` and
  then writes, with other threads free to run in between, so two concurrent writers could both pass
  the check that S3 lets only one pass (the reports index relies on it); and a put disposes of the
  key's old buffer while another put or a get may still be reading it ("I/O operation on closed
  file", seen on ``reports/index.json`` and ``index.html``). PutObject and GetObject of the same key
  are serialised (64 lock stripes by key). A fidelity fix, not a speed one; it patches moto alike.
- **Retry waits scaled** (tests only): moto's retrier sleeps for real between attempts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import os
import pickle
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PARSER_MODULE = "moto.stepfunctions.parser.asl.parse.asl_parser"
JSON_PATH_MODULES = ("moto.stepfunctions.parser.asl.utils.json_path",
                     "moto.stepfunctions.parser.asl.component.common.path.result_path")
MODELS_MODULE = "moto.stepfunctions.parser.models"
LAMBDA_TASKS_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
RETRY_MODULE = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
S3_MODELS_MODULE = "moto.s3.models"
S3_URLS_MODULE = "moto.s3.urls"
S3_RESPONSES_MODULE = "moto.s3.responses"
ERRORS_MODULE = "moto.core.errors"
SERVED_OFFLINE = frozenset({"states", "lambda"})  # botocore signing names


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


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier so Retry waits can be shortened."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def asl_cache_dir() -> Path | None:
    """Where parsed definitions are kept: ``$BAKEOFF_CACHE_DIR``, else ``$XDG_CACHE_HOME/bakeoff/asl``,
    else ``~/.cache/bakeoff/asl``; ``None`` (no cache) when ``BAKEOFF_CACHE_DIR`` is set but empty."""
    if "BAKEOFF_CACHE_DIR" in os.environ:
        return Path(os.environ["BAKEOFF_CACHE_DIR"]) if os.environ["BAKEOFF_CACHE_DIR"] else None
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home directory (some containers): run without the cache
        return None
    return Path(base) / "bakeoff" / "asl"


def _kept_on_disk(parse: Callable[[str], Any], folder: Path) -> Callable[[str], Any]:
    """``parse``, with each successful result pickled in ``folder`` under a name that changes with the
    definition's text, moto's version and Python's. Returns ``(program, None)`` from the cache: moto's
    second value (the ANTLR tree) is only read by its static analysers, which Bakeoff never runs."""
    import moto

    salt = f"moto {moto.__version__} python {sys.version_info[0]}.{sys.version_info[1]}\n"

    def cached(definition: str) -> Any:
        path = folder / (hashlib.sha256((salt + definition).encode()).hexdigest()[:32] + ".pickle")
        try:
            if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
                raise PermissionError(f"{path} belongs to another user")  # unpickling runs its code
            return pickle.loads(path.read_bytes()), None
        except Exception:  # noqa: BLE001 - no file, or one that cannot be read: parse afresh
            pass
        result = parse(definition)
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # only this user may plant a pickle
            handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        except OSError:  # a cache that cannot be written only costs the next command its parse
            return result
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(pickle.dumps(result[0], protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(temporary, path)  # atomic: a concurrent reader sees no file or the whole file
        except Exception:  # noqa: BLE001 - e.g. a program too deep to pickle: keep the parse, skip the cache
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return result

    return cached


def _memoized(function: Callable[[str], Any]) -> Callable[[str], Any]:
    """``function`` cached by its one string argument (errors are not cached: they re-raise each time)."""
    return functools.lru_cache(maxsize=1024)(function)


_DEFAULT_CACHE: Any = object()


@contextlib.contextmanager
def tuned_moto(retry_time_scale: float = 1.0, cache_dir: Path | None = _DEFAULT_CACHE) -> Iterator[None]:
    """Apply the changes above inside a running ``mock_aws``; undo them on exit. ``cache_dir``: where
    parsed definitions are kept (``asl_cache_dir()`` unless given; ``None`` for no disk cache)."""
    folder = asl_cache_dir() if cache_dir is _DEFAULT_CACHE else cache_dir
    import_interpreter()
    from moto.core.utils import get_service_model, service_name_from_moto_package_name

    with contextlib.ExitStack() as undo:

        def swap(target: str, attribute: str, value: Any) -> None:
            """Set ``module.attribute`` (or ``module:Class.attribute``) until the block ends."""
            module_name, _, class_name = target.partition(":")
            owner = importlib.import_module(module_name)
            if class_name:
                owner = getattr(owner, class_name)
            undo.callback(setattr, owner, attribute, owner.__dict__[attribute] if class_name else
                          getattr(owner, attribute))
            setattr(owner, attribute, value)

        service_name_from_moto_package_name("s3")
        get_service_model("s3")

        factory = importlib.import_module(ERRORS_MODULE).ErrorLookupFactory
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

        parse = importlib.import_module(PARSER_MODULE).AmazonStateLanguageParser.parse
        if folder is not None:
            parse = _kept_on_disk(parse, Path(folder))
        # On the class, so every importer of it sees the change.
        swap(PARSER_MODULE + ":AmazonStateLanguageParser", "parse", staticmethod(_memoized(parse)))
        for module_name in JSON_PATH_MODULES:
            swap(module_name, "parse", _memoized(importlib.import_module(module_name).parse))

        tasks = importlib.import_module(LAMBDA_TASKS_MODULE)
        original_client_for = tasks.boto_client_for
        clients: dict[tuple[str, str, str | None], Any] = {}
        lock = threading.Lock()

        def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            key = (region, service, os.environ.get("AWS_ENDPOINT_URL_LAMBDA"))
            with lock:
                if key not in clients:
                    clients[key] = original_client_for(region=region, service=service,
                                                       state_credentials=state_credentials)
                return clients[key]

        swap(LAMBDA_TASKS_MODULE, "boto_client_for", cached_client_for)

        s3_urls = importlib.reload(importlib.import_module(S3_URLS_MODULE))
        swap(S3_MODELS_MODULE + ":S3Backend", "_url_module", property(lambda backend: s3_urls))

        from botocore.signers import RequestSigner

        sign = RequestSigner.sign

        def sign_unless_served_offline(signer: RequestSigner, operation_name: str, request: Any,
                                       region_name: str | None = None, signing_type: str = "standard",
                                       expires_in: int | None = None, signing_name: str | None = None) -> None:
            if signing_type == "standard" and signer.signing_name in SERVED_OFFLINE:
                return
            sign(signer, operation_name, request, region_name, signing_type, expires_in, signing_name)

        swap("botocore.signers:RequestSigner", "sign", sign_unless_served_offline)

        responses = importlib.import_module(S3_RESPONSES_MODULE)
        stripes = [threading.Lock() for _ in range(64)]

        def one_at_a_time_per_key(operation: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def serialised(response: Any) -> Any:
                name = f"{response.bucket_name}/{response.parse_key_name()}"
                with stripes[hash(name) % len(stripes)]:
                    return operation(response)

            return serialised

        for operation in ("put_object", "get_object"):
            swap(S3_RESPONSES_MODULE + ":S3Response", operation,
                 one_at_a_time_per_key(getattr(responses.S3Response, operation)))
        if retry_time_scale != 1.0:
            swap(RETRY_MODULE, "time", _ScaledTime(retry_time_scale))
        yield
