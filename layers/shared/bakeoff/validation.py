"""Validation of an evaluation request: the first state, before any model is called.

Everything a user can get wrong is reported at once, field by field, so one round trip fixes it:
the schema (pydantic, with text that has no visible character refused: ``bakeoff.text``), the model
IDs (known, allowed, priced, none twice through an inference-profile prefix), the judge (not a
candidate; not of a candidate's family when ``strictJudge``), the token limits of each model, and the
cost estimate against the request's and the deployment's budgets (an unpriced model's cost is unknown:
never $0, and no ``budgetUsd`` can be checked against it). A dataset's lines are read as strictly as a
request (``bakeoff.jsontext``) and checked the same way, before any model is called.

Pure: nothing here reads or writes S3. ``check_request`` composes the named checks (``check_models``,
``check_judges``, ``check_criteria``, ``check_limits``, ``bakeoff.batch.batch_mode``, ``check_budget``);
storing the result is ``bakeoff.evaluations``, and ``functions/validate/service.py`` joins the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bakeoff.batch import at_batch_rates, batch_mode
from bakeoff.catalog import Catalog, estimate_tokens, load_catalog
from bakeoff.criteria import BUILTIN_CRITERIA
from bakeoff.errors import BudgetExceededError, RequestValidationError
from bakeoff.estimate import combine_estimates, estimate
from bakeoff.jsontext import parse_json
from bakeoff.models import CostEstimate, DatasetItem, Evaluation, EvaluationRequest, ResolvedCriterion
from bakeoff.repeats import unseeded_at_zero
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
            errors.append(
                {
                    "field": f"{field}[{i}]",
                    "message": f"{model_id!r} is the same model as {field}[{j}] "
                    f"({model_ids[j]!r}) through an inference profile; list each model once",
                }
            )
        else:
            first[base] = i
    return errors


def validate_request(
    raw: Any, *, evaluation_id: str, created_at: str, settings: Settings, items: list[DatasetItem] | None = None
) -> Evaluation:
    """``check_request(parse_request(raw), ...)``: for a caller holding the raw request."""
    return check_request(
        parse_request(raw), evaluation_id=evaluation_id, created_at=created_at, settings=settings, items=items
    )


def check_request(
    request: EvaluationRequest,
    *,
    evaluation_id: str,
    created_at: str,
    settings: Settings,
    items: list[DatasetItem] | None = None,
) -> Evaluation:
    """A fully checked ``Evaluation``, or ``RequestValidationError`` / ``BudgetExceededError``.

    In dataset mode ``items`` are the dataset's parsed lines; limits are checked against the longest
    article and the estimate sums over every item. Without them (a preflight before the dataset is
    read) only the request itself is checked. Every field error is collected before any is raised;
    the budget is checked only for a request that is otherwise valid.
    """
    catalog = load_catalog()
    articles = [request.article] if request.article is not None else [i.article for i in items or []]
    judges = judge_panel(request, settings)
    judge_errors, warnings = check_judges(request, judges, settings, catalog)
    criteria, criteria_errors = check_criteria(request)
    inference, batch_errors, batch_warnings = batch_mode(request, len(articles) if items is not None else None)
    errors = [
        *check_models(request, settings, catalog),
        *judge_errors,
        *criteria_errors,
        *check_limits(request, articles, catalog),
        *batch_errors,
    ]
    if errors:
        raise RequestValidationError(f"the request is invalid ({len(errors)} problem(s))", errors=errors)
    cost, cost_warnings = check_budget(request, [judge for judge, _ in judges], items, settings, inference=inference)
    return Evaluation(
        evaluation_id=evaluation_id,
        created_at=created_at,
        request=request,
        judge_model_id=judges[0][0],
        judge_model_ids=[judge for judge, _ in judges],
        criteria=criteria,
        estimate=cost,
        warnings=[*warnings, *batch_warnings, *repeat_warnings(request), *cost_warnings],
        items=len(articles) if request.dataset else None,
        deadline_at=deadline_at(created_at, request, settings),
        inference=inference,
    )


# --- the named checks: each returns what it found, none raises but the budget ------------------------


def repeat_warnings(request: EvaluationRequest) -> list[str]:
    """Repeats that will likely all be the same answer (and still be paid for)."""
    same = unseeded_at_zero(request.models, request.repeats, request.temperature)
    if not same:
        return []
    return [
        f"{', '.join(same)} take no seed and temperature is 0: their {request.repeats} repeats will likely be "
        "the same answer; raise temperature to measure how much their answers vary"
    ]


def judge_panel(request: EvaluationRequest, settings: Settings) -> list[tuple[str, str]]:
    """The judges as ``(model ID, the field that named it)``: the panel, else the one judge, else the
    deployment's default."""
    if request.judges:
        return [(judge, f"judges[{i}]") for i, judge in enumerate(request.judges)]
    if request.judge_model_id:
        return [(request.judge_model_id, "judgeModelId")]
    return [(settings.JUDGE_MODEL_ID, "judgeModelId (deployment default)")]


def _usable(
    model_id: str, field: str, request: EvaluationRequest, settings: Settings, catalog: Catalog
) -> list[dict[str, str]]:
    """The model is allowed in this deployment, and priced unless the request accepts an unpriced one."""
    if not allowed(model_id, settings):
        shown = ", ".join(settings.ALLOWED_MODEL_IDS[:8]) + (" ..." if len(settings.ALLOWED_MODEL_IDS) > 8 else "")
        return [{"field": field, "message": f"model {model_id!r} is not allowed here; allowed: {shown}"}]
    if catalog.get(model_id) is None and not request.allow_unpriced:
        return [
            {
                "field": field,
                "message": f"model {model_id!r} has no price in the catalog; "
                "use a known model ID or set allowUnpriced: true",
            }
        ]
    return []


def check_models(request: EvaluationRequest, settings: Settings, catalog: Catalog) -> list[dict[str, str]]:
    """The candidates: each allowed and priced, none listed twice."""
    errors = [e for i, m in enumerate(request.models) for e in _usable(m, f"models[{i}]", request, settings, catalog)]
    return errors + _same_model_twice(request.models, "models", catalog)


def check_judges(
    request: EvaluationRequest, judges: list[tuple[str, str]], settings: Settings, catalog: Catalog
) -> tuple[list[dict[str, str]], list[str]]:
    """The judges: each allowed and priced, none listed twice, none a candidate, none of a candidate's
    family when ``strictJudge`` (else a warning), and a panel's judges of different families."""
    errors = _same_model_twice(request.judges, "judges", catalog) if request.judges else []
    warnings: list[str] = []
    bases = {catalog.unprefixed(m) for m in request.models}
    for judge, field in judges:
        errors.extend(_usable(judge, field, request, settings, catalog))
        if catalog.unprefixed(judge) in bases:
            errors.append(
                {
                    "field": field,
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
                errors.append({"field": field, "message": text + " (refused: strictJudge is set)"})
            else:
                warnings.append(text)
    families = [catalog.family(judge) for judge, _ in judges]
    if len(set(families)) < len(families):
        errors.append(
            {
                "field": "judges",
                "message": "a judge panel needs judges from different model families "
                f"(got {', '.join(families)}), or their shared biases add up instead of cancelling",
            }
        )
    return errors, warnings


def check_criteria(request: EvaluationRequest) -> tuple[list[ResolvedCriterion], list[dict[str, str]]]:
    """The rubric, each criterion with its description: a built-in one's, or the request's own."""
    criteria: list[ResolvedCriterion] = []
    errors: list[dict[str, str]] = []
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
        else:
            criteria.append(ResolvedCriterion(name=name, weight=spec.weight, description=description))
    return criteria, errors


def check_limits(request: EvaluationRequest, articles: list[str], catalog: Catalog) -> list[dict[str, str]]:
    """Each priced candidate's output limit and context window (the longest article of a dataset)."""
    errors: list[dict[str, str]] = []
    longest = max(articles, key=len, default="")
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
        needed = estimate_tokens(request.prompt, model_id) + estimate_tokens(longest, model_id) + request.max_tokens
        if articles and needed > info.context_window:
            errors.append(
                {
                    "field": f"models[{i}]",
                    "message": f"the article and prompt (~{needed - request.max_tokens} tokens) plus "
                    f"maxTokens ({request.max_tokens}) exceed {model_id}'s context window "
                    f"of {info.context_window} tokens",
                }
            )
    return errors


def check_budget(
    request: EvaluationRequest,
    judges: list[str],
    items: list[DatasetItem] | None,
    settings: Settings,
    *,
    inference: str | None = None,
) -> tuple[CostEstimate, list[str]]:
    """The cost estimate (summed over a dataset's ``items``) and its warnings; ``BudgetExceededError`` when
    it is over ``budgetUsd`` or the deployment's limit, or when ``budgetUsd`` is set and some model has no
    price to check it with."""
    if request.article is not None:
        cost = estimate(request, judges)
    else:
        per_item = [
            estimate(request.model_copy(update={"article": i.article, "reference": i.reference}), judges)
            for i in items or []
        ]
        cost = combine_estimates(per_item)
    if inference == "batch":
        cost = at_batch_rates(cost)  # the budgets below are checked against what batch jobs will cost
    warnings: list[str] = []
    if cost.unpriced:
        names = ", ".join(cost.unpriced)
        if request.budget_usd is not None:
            raise BudgetExceededError(
                f"the cost of {names} is unknown (no price); budgetUsd cannot be checked",
                errors=[
                    {
                        "field": "budgetUsd",
                        "message": f"the cost of {names} is unknown (no price in the "
                        "catalog), so no budget can be guaranteed: remove budgetUsd, or use priced models",
                    }
                ],
                estimate=cost.dump(),
            )
        warnings.append(
            f"{names} has no price: its cost is unknown, shown as unpriced in the report, and "
            "not part of the estimate that MaxCostPerEvaluationUsd is checked against"
        )
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
    return cost, warnings


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
            errors.append({"field": where, "message": 'expected a JSON object: {"id", "article", "reference"?}'})
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
