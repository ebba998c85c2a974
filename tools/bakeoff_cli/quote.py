"""``bakeoff estimate REQUEST [--dataset FILE]``: what a run will cost and take on AWS, before it starts.

The request is checked as the Validate state checks it (with this repository's template defaults), then
quoted by ``bakeoff.estimate.quote``: tokens, dollars on demand, with the candidates in batch and with the
judge's prompt cache, Step Functions transitions (Standard and Express children), Lambda GB-seconds, and the
wall time under the tokens-per-minute quota. A budget does not stop the quote: it says whether Validate
would refuse the run, and why.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bakeoff_cli.console import console, print_refusal, say_error, wide
from bakeoff_cli.exit_codes import Exit
from bakeoff_cli.local_run import load_event
from bakeoff_cli.paths import project_root

QUOTE_SETTINGS_FROM = ("ValidateFunction", "ScoreFunction")


def _settings() -> tuple[Any, Any]:
    """Validate's and Score's settings as this repository's template gives them, every catalog model allowed
    (a quote is about money, not about what one deployment allows)."""
    from bakeoff.catalog import load_catalog
    from bakeoff.settings import Settings
    from bakeoff_offline.template import read_stack

    catalog = load_catalog()
    stack = read_stack(project_root(), parameters={"AllowedModelIds": [*catalog.bedrock_ids(), *catalog.local_ids()]})
    validate, score = (Settings.from_env(stack.functions[name].environment) for name in QUOTE_SETTINGS_FROM)
    return validate, score


def estimate_command(args: argparse.Namespace) -> int:
    from bakeoff.errors import BudgetExceededError, RequestValidationError
    from bakeoff.estimate import QuoteAssumptions, quote
    from bakeoff.validation import parse_dataset, validate_request

    raw = load_event(args.event)
    if not isinstance(raw, dict):
        say_error(f"{args.event}: a request is a JSON object")
        return Exit.REFUSED_LOCAL
    settings, score_settings = _settings()
    items = None
    if args.dataset is not None:
        try:
            body = args.dataset.read_bytes()
        except FileNotFoundError:
            say_error(f"no such file: {args.dataset}")
            return Exit.REFUSED
        raw = {k: v for k, v in raw.items() if k != "article"} | {
            "dataset": {"s3Uri": f"s3://local-file/{args.dataset.name}"}
        }
    elif raw.get("dataset") is not None:
        say_error(f"{args.event} names a dataset in S3: give the same JSONL with --dataset FILE to quote it")
        return Exit.REFUSED
    # The quote is wanted most when a run is over budget: check the budgets after quoting, not before.
    budget = raw.get("budgetUsd")
    unbudgeted = {k: v for k, v in raw.items() if k != "budgetUsd"}
    try:
        if args.dataset is not None:
            items = parse_dataset(body, max_items=settings.MAX_DATASET_ITEMS)
        evaluation = validate_request(
            unbudgeted,
            evaluation_id="quote",
            created_at="1970-01-01T00:00:00+00:00",
            settings=settings.model_copy(update={"MAX_COST_PER_EVALUATION_USD": 1e12}),
            items=items,
        )
    except (RequestValidationError, BudgetExceededError) as exc:
        print_refusal(type(exc).__name__, exc.details, local=False)
        return Exit.REFUSED_LOCAL
    assume = QuoteAssumptions(
        tokens_per_minute=(
            settings.MODEL_TOKENS_PER_MINUTE if args.tokens_per_minute is None else args.tokens_per_minute
        ),
        dataset_max_concurrency=args.dataset_concurrency or settings.DATASET_MAX_CONCURRENCY,
        map_max_concurrency=settings.MAP_MAX_CONCURRENCY,
        judge_concurrency=score_settings.JUDGE_CONCURRENCY,
        output_tokens_per_second=args.tokens_per_second,
    )
    articles = [i.article for i in items] if items is not None else [evaluation.request.article]
    result = quote(evaluation.request, evaluation.judge_model_ids, articles, assume)
    refusals = [
        f"{name} ${limit:,.2f}"
        for name, limit in (("budgetUsd", budget), ("MaxCostPerEvaluationUsd", settings.MAX_COST_PER_EVALUATION_USD))
        if isinstance(limit, int | float) and result.on_demand_usd > limit
    ]
    if args.json:
        print(json.dumps(result.dump() | {"validateWouldRefuse": refusals}, indent=2))
    else:
        print_quote(result.dump(), refusals)
    return Exit.OK


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def print_quote(q: dict[str, Any], refusals: list[str]) -> None:
    from rich.table import Table

    items = q["items"]
    console.print(
        f"[bold]Quote[/bold]: {items:,} item(s) x {len(q['models'])} model(s), judged by "
        f"{', '.join(q['judges'])} (prices as of {q['pricesAsOf']})"
    )
    tokens = Table("model", "role", "calls", "input tokens", "output tokens", "on demand", title="Tokens")
    for line in q["estimate"]["lines"]:
        cost = line.get("costUsd")
        tokens.add_row(
            line["modelId"],
            line["role"],
            f"{line['calls']:,}",
            f"{line['inputTokens']:,}",
            f"{line['outputTokens']:,}",
            "unpriced" if cost is None else _usd(cost),
        )
    tokens.add_row("total", "", "", f"{q['inputTokens']:,}", f"{q['outputTokens']:,}", _usd(q["onDemandUsd"]))
    wide().print(tokens)
    sfn, fn = q["stepFunctions"], q["lambda"]
    money = Table("", "USD", title="Dollars")
    money.add_row("models on demand", _usd(q["onDemandUsd"]))
    money.add_row("models, candidates in batch", _usd(q["batchUsd"]))
    money.add_row("models, judge prompt cached", _usd(q["cachedUsd"]))
    money.add_row(
        f"Step Functions, Standard children ({sfn['standardTransitions']:,} transitions)", _usd(sfn["standardUsd"])
    )
    money.add_row(
        f"Step Functions, Express children ({sfn['expressRequests']:,} requests, {sfn['expressGbSeconds']:,.1f} GB-s)",
        _usd(sfn["expressUsd"]),
    )
    money.add_row(f"Lambda ({fn['invocations']:,.0f} invocations, {fn['gbSeconds']:,.1f} GB-s)", _usd(fn["usd"]))
    wide().print(money)
    console.print(
        f"Wall time: about [bold]{_duration(q['wallSeconds'])}[/bold] ({q['concurrency']} item(s) at "
        f"once, {q['itemSeconds']:.0f} s an item; bound by {q['wallBound']})"
    )
    if q.get("unpriced"):
        console.print(f"[yellow]No price for {', '.join(q['unpriced'])}: not in the totals.[/yellow]")
    for refusal in refusals:
        console.print(f"[red]Validate would refuse this run:[/red] on demand it is over {refusal}")
    console.print("Assumptions: " + "; ".join(q["assumptions"]), style="dim")
