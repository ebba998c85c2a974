"""An evaluation's own documents in the bucket: what Validate writes once and every later state reads.

Layout (beside the checkpoints and reports that ``bakeoff.storage`` describes)::

    evaluations/<evaluationId>/owner.json             the API key that created it (written by the API)
    evaluations/<evaluationId>/request.json           the validated ``Evaluation``
    evaluations/<evaluationId>/items.json             dataset mode: ``[{evaluationId, itemId}]``, the
                                                      Distributed Map's items
    evaluations/<evaluationId>~<itemId>/request.json  dataset mode: one ``Evaluation`` per item

Validation (``bakeoff.validation``) decides what an ``Evaluation`` is; this module only reads and
writes them, through a ``Store`` handed in (so tests pass a moto-backed one).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bakeoff.models import DatasetItem, Evaluation, Owner
from bakeoff.storage import Store, evaluation_key

# One PUT per dataset item: S3 takes them in parallel, and a 500-item dataset is written in a second.
ITEM_WRITERS = 16


def item_evaluation_id(evaluation_id: str, item_id: str) -> str:
    """Each dataset item is an evaluation of its own under its parent: every per-item state works unchanged."""
    return f"{evaluation_id}~{item_id}"


class EvaluationStore:
    """Reads and writes the documents above. S3 failures surface as ``StorageError`` (from ``Store``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def owner(self, evaluation_id: str) -> Owner | None:
        """The owner the API recorded before starting the execution; None for a run without the API."""
        found = self.store.get_json(evaluation_key(evaluation_id, "owner.json"))
        return None if found is None else Owner.model_validate(found)

    def dataset(self, s3_uri: str) -> bytes | None:
        """The dataset's bytes (it may live in another bucket); None when there is no such object."""
        return self.store.get_uri(s3_uri)

    def save(self, evaluation: Evaluation, items: list[DatasetItem] | None = None) -> None:
        """Store the evaluation; with ``items``, first one evaluation per item and the manifest of them,
        so that ``request.json``, written last, only exists once everything it points at does."""
        if items is not None:
            with ThreadPoolExecutor(max_workers=ITEM_WRITERS) as pool:
                manifest = list(pool.map(lambda item: self._save_item(evaluation, item), items))
            self.store.put_json(evaluation_key(evaluation.evaluation_id, "items.json"), manifest)
        self.store.put_json(evaluation_key(evaluation.evaluation_id, "request.json"), evaluation.dump())

    def _save_item(self, evaluation: Evaluation, item: DatasetItem) -> dict[str, str]:
        child_id = item_evaluation_id(evaluation.evaluation_id, item.id)
        child = evaluation.model_copy(
            update={
                "evaluation_id": child_id,
                "item_id": item.id,
                "reference": item.reference,
                "items": None,
                "request": evaluation.request.model_copy(update={"article": item.article, "dataset": None}),
            }
        )
        self.store.put_json(evaluation_key(child_id, "request.json"), child.dump())
        return {"evaluationId": child_id, "itemId": item.id}

    def load(self, evaluation_id: str) -> Evaluation:
        """The validated evaluation (read from S3 once per container: it never changes)."""
        return Evaluation.model_validate(
            self.store.require_immutable_json(evaluation_key(evaluation_id, "request.json"))
        )


def load_evaluation(store: Store, evaluation_id: str) -> Evaluation:
    """``EvaluationStore(store).load(evaluation_id)``, for the states that hold a plain ``Store``."""
    return EvaluationStore(store).load(evaluation_id)
