"""``bakeoff models [--json]``: the model catalog (prices, limits, support), as Validate and the quote use it."""

from __future__ import annotations

import argparse
import json

from bakeoff_cli.console import console, wide
from bakeoff_cli.exit_codes import Exit


def _price(value: float | None) -> str:
    return "–" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _flag(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


def models_command(args: argparse.Namespace) -> int:
    from bakeoff.catalog import load_catalog

    catalog = load_catalog()
    if args.json:
        print(
            json.dumps([m.model_dump(mode="json", by_alias=True, exclude_none=True) for m in catalog.models], indent=2)
        )
        return Exit.OK
    from rich.table import Table

    table = Table(
        "model ID",
        "in",
        "out",
        "batch in",
        "batch out",
        "cache read",
        "cache write",
        "context",
        "max out",
        "tools",
        "caching",
        "as of",
        title="USD per 1,000 tokens (– : no figure found; batch then bills 50% of on-demand)",
    )
    for m in catalog.models:
        table.add_row(
            m.model_id,
            _price(m.input_per_1k_usd),
            _price(m.output_per_1k_usd),
            _price(m.batch_input_per_1k_usd),
            _price(m.batch_output_per_1k_usd),
            _price(m.cache_read_per_1k_usd),
            _price(m.cache_write_per_1k_usd),
            f"{m.context_window:,}",
            f"{m.max_output_tokens:,}",
            _flag(catalog.supports_tool_use(m.model_id)),
            _flag(m.prompt_caching) + (f" (≥{m.cache_min_tokens:,})" if m.cache_min_tokens else ""),
            m.as_of or "–",
        )
    # One row per model, never wrapped: a pipe or a narrow terminal gets the full table to scroll or grep.
    wide().print(table)
    console.print(
        "Sources: `bakeoff models --json` (each entry's source); layers/shared/bakeoff/data/models.json", style="dim"
    )
    return Exit.OK
