"""``bakeoff local invoke FunctionLogicalId -e EVENT.json``: one function, in-process, with the
environment template.yaml gives it - the Docker-free twin of ``sam local invoke``.

The local bucket starts with ``events/bucket/`` in it, the objects the sample events refer to.
Functions that call a model use ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` when it is set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from argparse import Namespace

from bakeoff_cli.local_run import ENDPOINT_VAR, deployment_parameters, load_event
from bakeoff_cli.paths import project_root


def invoke(args: Namespace) -> int:
    from bakeoff_offline.bucket import load_objects
    from bakeoff_offline.stack import OfflineStack

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    root = project_root()
    event = load_event(args.event)
    endpoint = os.environ.get(ENDPOINT_VAR)
    env = {ENDPOINT_VAR: endpoint} if endpoint else {}
    with OfflineStack(root, parameters=deployment_parameters(local=False), env=env) as stack:
        function = stack.lambda_server.functions.get(args.function)
        if function is None:
            names = ", ".join(stack.lambda_server.functions)
            print(f"bakeoff: no function {args.function!r} in template.yaml; functions: {names}", file=sys.stderr)
            return 2
        seeded = load_objects(stack.stack.bucket_name, root / "events" / "bucket")
        print(f"local bucket {stack.stack.bucket_name}: {seeded} object(s) from events/bucket/", file=sys.stderr)
        body, function_error = stack.lambda_server.invoke(function, event)
    print(json.dumps(body, indent=2))
    if function_error:
        if body.get("errorType") in ("ModelServiceError", "ModelTimeoutError") and not endpoint:
            print(
                f"bakeoff: this function calls a model; offline, point it at a Converse endpoint with "
                f"{ENDPOINT_VAR}=http://127.0.0.1:PORT (python -m converse_local serve)",
                file=sys.stderr,
            )
        return 1
    return 0
