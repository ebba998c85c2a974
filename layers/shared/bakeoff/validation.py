"""Validation of an evaluation request: the first state, before any model is called.

Everything a user can get wrong is reported at once, field by field, so one round trip fixes it:
the schema (pydantic, with text that has no visible character refused: ``bakeoff.text``), the model
IDs (known, allowed, priced, none twice through an inference-profile prefix), the judge (not a
candidate; not of a candidate's family when ``strictJudge``), the token limits of each model, and the
cost estimate against the request's and the deployment's budgets (an unpriced model's cost is unknown:
never $0, and no ``budgetUsd`` can be checked against it). A dataset's lines are read as strictly as a
request (``bakeoff.jsontext``) and checked the same way, before any model is called.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bakeoff.catalog import Catalog, estimate_tokens, load_catalog
from bakeoff.criteria import BUILTIN_CRITERIA
from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.estimate import combine_estimates, estimate
from bakeoff.jsontext import parse_json
from bakeoff.models import DatasetItem, Evaluation, EvaluationRequest, Owner, ResolvedCriterion
from bakeoff.settings import Settings


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``{field, message}`` with a JSON-path-like field name."""
    out = []
    for err in exc.errors(include_url=False):
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (check its spelling; fields are camelCase)"
        out.append({"field": path or "(body)", "message": message})
    return out


def parse_request(raw: Any) -> EvaluationRequest:
    """The schema check alone; raises ``RequestValidationError`` listing every bad field."""
    if not isinstance(raw, dict):
        raise RequestValidationError(
            "the request must be a JSON object", errors=[{"field": "(body)", "message": "expected a JSON object"}]
        )
    try:
        # Strict and by alias: "5" is not a weight and max_tokens is not maxTokens; the API's JSON
        # schema model refuses both, so this must too (it is the only check for the Step Functions input).
        return EvaluationRequest.model_validate(raw, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise RequestValidationError(f"the request is invalid ({len(errors)} problem(s))", errors=errors) from exc


def allowed(model_id: str, settings: Settings) -> bool:
    if not settings.ALLOWED_MODEL_IDS:
        return True
    base = load_catalog().base_model_id(model_id)
    return model_id in settings.ALLOWED_MODEL_IDS or base in settings.ALLOWED_MODEL_IDS


def _same_model_twice(model_ids: list[str], field: str, catalog: Catalog) -> list[dict[str, str]]:
    """``amazon.nova-lite-v1:0`` and ``us.amazon.nova-lite-v1:0`` are one model (an inference profile
    routes to its base model): listed twice, it would answer, and be paid for, twice."""
    errors, first = [], {}
    for i, model_id in enumerate(model_ids):
        base = catalog.unprefixed(model_id)
        if base in first:
            j = first[base]
            errors.append({"field": f"{field}[{i}]", "message": f"{model_id!r} is the same model as {field}[{j}] "
                           f"({model_ids[j]!r}) through an inference profile; list each model once"})
        else:
            first[base] = i
    return errors


def validate_request(
    raw: Any, *, evaluation_id: str, created_at: str, settings: Settings, items: list[DatasetItem] | None = None
) -> Evaluation:
    """A fully checked ``Evaluation``, or ``RequestValidationError`` / ``BudgetExceededError``.

    In dataset mode ``items`` are the dataset's parsed lines (``accept`` reads them from S3); limits
    are checked against the longest article and the estimate sums over every item. Without them
    (a preflight before the dataset is read) only the request itself is checked.
    """
    request = parse_request(raw)
    articles = [request.article] if request.article is not None else [i.article for i in items or []]
    catalog = load_catalog()
    errors: list[dict[str, str]] = []
    warnings: list[str] = []
    if request.judges:
        judges = list(request.judges)
        judge_fields = [f"judges[{i}]" for i in range(len(judges))]
    else:
        judges = [request.judge_model_id or settings.JUDGE_MODEL_ID]
        judge_fields = ["judgeModelId" if request.judge_model_id else "judgeModelId (deployment default)"]

    def check_model(model_id: str, field: str) -> None:
        if not allowed(model_id, settings):
            shown = ", ".join(settings.ALLOWED_MODEL_IDS[:8]) + (" ..." if len(settings.ALLOWED_MODEL_IDS) > 8 else "")
            errors.append({"field": field, "message": f"model {model_id!r} is not allowed here; allowed: {shown}"})
        elif catalog.get(model_id) is None and not request.allow_unpriced:
            errors.append(
                {
                    "field": field,
                    "message": f"model {model_id!r} has no price in the catalog; "
                    "use a known model ID or set allowUnpriced: true",
                }
            )

    for i, model_id in enumerate(request.models):
        check_model(model_id, f"models[{i}]")
    errors.extend(_same_model_twice(request.models, "models", catalog))
    if request.judges:
        errors.extend(_same_model_twice(request.judges, "judges", catalog))
    bases = {catalog.unprefixed(m) for m in request.models}
    for judge, judge_field in zip(judges, judge_fields, strict=True):
        check_model(judge, judge_field)
        if catalog.unprefixed(judge) in bases:
            errors.append(
                {
                    "field": judge_field,
                    "message": f"the judge {judge!r} is also a candidate; a model "
                    "must not grade itself: choose a judge that is not in models",
                }
            )
            continue
        same_family = [m for m in request.models if catalog.family(m) == catalog.family(judge)]
        if same_family:
            text = (
                f"the judge {judge} is of the same family ({catalog.family(judge)}) as "
                f"{', '.join(same_family)}; judges tend to favour their own family's text"
            )
            if request.strict_judge:
                errors.append({"field": judge_field, "message": text + " (refused: strictJudge is set)"})
            else:
                warnings.append(text)
    panel_families = [catalog.family(j) for j in judges]
    if len(set(panel_families)) < len(panel_families):
        errors.append(
            {
                "field": "judges",
                "message": "a judge panel needs judges from different model families "
                f"(got {', '.join(panel_families)}), or their shared biases add up instead of cancelling",
            }
        )

    criteria: list[ResolvedCriterion] = []
    for name, spec in request.criteria.items():
        description = spec.description or BUILTIN_CRITERIA.get(name)
        if description is None:
            errors.append(
                {
                    "field": f"scoringCriteria.{name}",
                    "message": "a custom criterion needs a "
                    f"description; built-in ones are: {', '.join(BUILTIN_CRITERIA)}",
                }
            )
            continue
        criteria.append(ResolvedCriterion(name=name, weight=spec.weight, description=description))

    for i, model_id in enumerate(request.models):
        info = catalog.get(model_id)
        if info is None:
            continue
        if request.max_tokens > info.max_output_tokens:
            errors.append(
                {
                    "field": "maxTokens",
                    "message": f"{request.max_tokens} exceeds {model_id}'s output "
                    f"limit of {info.max_output_tokens} tokens",
                }
            )
        longest = max(articles, key=len, default="")
        needed = estimate_tokens(request.prompt, model_id) + estimate_tokens(longest, model_id) + request.max_tokens
        if articles and needed > info.context_window:
            errors.append(
                {
                    "field": f"models[{i}]",
                    "message": f"the article and prompt (~{needed - request.max_tokens} "
                    f"tokens) plus maxTokens ({request.max_tokens}) exceed {model_id}'s context window "
                    f"of {info.context_window} tokens",
                }
            )

    if errors:
        raise RequestValidationError(f"the request is invalid ({len(errors)} problem(s))", errors=errors)

    if request.article is not None:
        cost = estimate(request, judges)
    else:
        per_item = [estimate(request.model_copy(update={"article": i.article, "reference": i.reference}), judges)
                    for i in items or []]
        cost = combine_estimates(per_item)
    if cost.unpriced:
        names = ", ".join(cost.unpriced)
        if request.budget_usd is not None:
            raise BudgetExceededError(
                f"the cost of {names} is unknown (no price); budgetUsd cannot be checked",
                errors=[{"field": "budgetUsd", "message": f"the cost of {names} is unknown (no price in the "
                         "catalog), so no budget can be guaranteed: remove budgetUsd, or use priced models"}],
                estimate=cost.dump(),
            )
        warnings.append(f"{names} has no price: its cost is unknown, shown as unpriced in the report, and "
                        "not part of the estimate that MaxCostPerEvaluationUsd is checked against")
    limits = [
        ("budgetUsd", request.budget_usd),
        ("MaxCostPerEvaluationUsd (deployment)", settings.MAX_COST_PER_EVALUATION_USD),
    ]
    for name, limit in limits:
        if limit is not None and cost.total_usd > limit:
            raise BudgetExceededError(
                f"estimated cost ${cost.total_usd:.4f} exceeds {name} ${limit:.4f}",
                errors=[
                    {
                        "field": "budgetUsd" if name == "budgetUsd" else "(deployment)",
                        "message": f"estimated cost ${cost.total_usd:.4f} is over the limit ${limit:.4f}; "
                        "lower maxTokens, shorten the article or use fewer or cheaper models",
                    }
                ],
                estimate=cost.dump(),
            )

    return Evaluation(
        evaluation_id=evaluation_id,
        created_at=created_at,
        request=request,
        judge_model_id=judges[0],
        judge_model_ids=judges,
        criteria=criteria,
        estimate=cost,
        warnings=warnings,
        items=len(articles) if request.dataset else None,
        deadline_at=deadline_at(created_at, request, settings),
    )


def deadline_at(created_at: str, request: EvaluationRequest, settings: Settings) -> str | None:
    """When no more model calls may start: ``deadlineSeconds`` after acceptance, else the deployment's
    default for one article (a dataset may run for hours, so it has a deadline only when it asks for one)."""
    seconds = request.deadline_seconds or (None if request.dataset else settings.EVALUATION_DEADLINE_SECONDS)
    if seconds is None:
        return None
    try:
        start = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    return (start + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def parse_dataset(body: bytes, *, max_items: int) -> list[DatasetItem]:
    """The dataset's lines as items; every bad line reported with its number, at once."""
    errors: list[dict[str, str]] = []
    items: list[DatasetItem] = []
    seen: dict[str, int] = {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestValidationError(
            "the dataset is not UTF-8 text", errors=[{"field": "dataset", "message": f"not UTF-8 at byte {exc.start}"}]
        ) from exc
    # JSON Lines ends a line at "\n" only: str.splitlines() would also split at U+2028, U+2029, \x85,
    # \x0b, \x0c and \x1c-\x1e, which JSON allows raw inside a string, and cut such an item in two.
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip(" \t\r")]
    if not lines:
        errors.append({"field": "dataset", "message": "the dataset has no items (one JSON object per line)"})
    if len(lines) > max_items:
        errors.append({"field": "dataset", "message": f"{len(lines)} items; at most {max_items} per evaluation"})
    for number, line in lines[: max_items + 1]:
        where = f"dataset line {number}"
        try:
            value = parse_json(line, what="the line", field=where, key_prefix=f"{where}: ")
        except RequestValidationError as exc:
            errors.extend(exc.details["errors"])
            continue
        if not isinstance(value, dict):
            errors.append({"field": where, "message": "expected a JSON object: {\"id\", \"article\", \"reference\"?}"})
            continue
        try:
            item = DatasetItem.model_validate(value)
        except ValidationError as exc:
            errors.extend({"field": f"{where}: {e['field']}", "message": e["message"]} for e in field_errors(exc))
            continue
        if item.id in seen:
            errors.append({"field": f"{where}: id", "message": f"id {item.id!r} repeats line {seen[item.id]}"})
        seen[item.id] = number
        items.append(item)
    if errors:
        shown = errors[:50] + (
            [{"field": "dataset", "message": f"... and {len(errors) - 50} more"}] if len(errors) > 50 else []
        )
        raise RequestValidationError(f"the dataset is invalid ({len(errors)} problem(s))", errors=shown)
    return items


def item_evaluation_id(evaluation_id: str, item_id: str) -> str:
    """Each dataset item is an evaluation of its own under its parent: every per-item state works unchanged."""
    return f"{evaluation_id}~{item_id}"


def accept(raw: Any, *, evaluation_id: str, created_at: str, settings: Settings, store: Any) -> Evaluation:
    """Validate, then store the request once under ``evaluations/<id>/request.json`` for later states.

    The owner the API recorded (``evaluations/<id>/owner.json``) is stored with it, so every later
    state scopes its checkpoints to that API key. Dataset mode also stores one request per item
    (``evaluations/<id>~<itemId>/request.json``) and the list of items (``evaluations/<id>/items.json``)
    that the Distributed Map reads.
    """
    from concurrent.futures import ThreadPoolExecutor

    from bakeoff.storage import evaluation_key  # local: storage pulls botocore, validation alone does not

    items = None
    request = parse_request(raw)
    if request.dataset is not None:
        body = store.get_uri(request.dataset.s3_uri)
        if body is None:
            raise RequestValidationError(
                "the dataset does not exist",
                errors=[{"field": "dataset.s3Uri", "message": f"no object at {request.dataset.s3_uri}"}],
            )
        items = parse_dataset(body, max_items=settings.MAX_DATASET_ITEMS)
    evaluation = validate_request(
        raw, evaluation_id=evaluation_id, created_at=created_at, settings=settings, items=items
    )
    owner = store.get_json(evaluation_key(evaluation_id, "owner.json"))
    if owner is not None:
        evaluation.api_key_id = Owner.model_validate(owner).api_key_id
    if items is not None:

        def put_item(item: DatasetItem) -> dict[str, str]:
            child_id = item_evaluation_id(evaluation_id, item.id)
            child = evaluation.model_copy(
                update={
                    "evaluation_id": child_id,
                    "item_id": item.id,
                    "reference": item.reference,
                    "items": None,
                    "request": evaluation.request.model_copy(update={"article": item.article, "dataset": None}),
                }
            )
            store.put_json(evaluation_key(child_id, "request.json"), child.dump())
            return {"evaluationId": child_id, "itemId": item.id}

        with ThreadPoolExecutor(max_workers=16) as pool:
            manifest = list(pool.map(put_item, items))
        store.put_json(evaluation_key(evaluation_id, "items.json"), manifest)
    store.put_json(evaluation_key(evaluation_id, "request.json"), evaluation.dump())
    return evaluation


def load_evaluation(store: Any, evaluation_id: str) -> Evaluation:
    from bakeoff.storage import evaluation_key

    return Evaluation.model_validate(store.require_immutable_json(evaluation_key(evaluation_id, "request.json")))
