"""What the Validate state does: read the request once, check it, store the result for later states.

The checks are ``bakeoff.validation`` (pure: no S3); the documents are ``bakeoff.evaluations``. A
dataset is read from S3 here, between the two, because its lines are checked like the request.
"""

from __future__ import annotations

from typing import Any

from bakeoff.errors import RequestValidationError
from bakeoff.evaluations import EvaluationStore
from bakeoff.models import Evaluation
from bakeoff.settings import Settings
from bakeoff.validation import check_request, parse_dataset, parse_request


def accept(
    raw: Any, *, evaluation_id: str, created_at: str, settings: Settings, evaluations: EvaluationStore
) -> Evaluation:
    """Validate, then store the evaluation once under ``evaluations/<id>/request.json`` for later states.

    The owner the API recorded (``evaluations/<id>/owner.json``) is stored with it, so every later
    state scopes its checkpoints to that API key. Dataset mode also stores one evaluation per item
    and the list of items that the Distributed Map reads (``bakeoff.evaluations``).
    """
    request = parse_request(raw)
    items = None
    if request.dataset is not None:
        body = evaluations.dataset(request.dataset.s3_uri)
        if body is None:
            raise RequestValidationError(
                "the dataset does not exist",
                errors=[{"field": "dataset.s3Uri", "message": f"no object at {request.dataset.s3_uri}"}],
            )
        items = parse_dataset(body, max_items=settings.MAX_DATASET_ITEMS)
    evaluation = check_request(
        request, evaluation_id=evaluation_id, created_at=created_at, settings=settings, items=items
    )
    owner = evaluations.owner(evaluation_id)
    if owner is not None:
        evaluation.api_key_id = owner.api_key_id
    evaluations.save(evaluation, items)
    return evaluation
